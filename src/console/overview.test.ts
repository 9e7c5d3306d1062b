import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { ModelConfigSchema, type ModelConfig } from '../config/schema.js';
import { TrafficHistory } from './history.js';
import { DEFAULT_DRIFT_THRESHOLD, modelOverview, type OverviewSources } from './overview.js';
import type { ModelCounts, TrafficReading, VariantCounts } from './traffic.js';

const BOUNDS = [0.01, 0.1, Infinity];

const model = (rollout?: object): ModelConfig =>
  Value.Default(ModelConfigSchema, {
    routing: { salt: 's' },
    variants: [
      { name: 'v1', upstream: 'onnx', model: 'fraud', version: '1', weight: 100 },
      { name: 'v2', upstream: 'onnx', model: 'fraud', version: '2', weight: 0 },
    ],
    ...(rollout ? { rollout } : {}),
  }) as ModelConfig;

/** A reading of model "fraud" at `at` seconds: per variant, requests, errors and how many took 5 ms. */
function reading(at: number, variants: Record<string, [number, number, number]>): TrafficReading {
  const counts: ModelCounts = {
    variants: new Map(),
    fallbacks: new Map(),
    shed: new Map(),
    rateLimited: new Map(),
  };
  for (const [name, [requests, errors, fast]] of Object.entries(variants)) {
    // `fast` took under 10 ms, the rest 10..100 ms.
    const v: VariantCounts = { requests, errors, fallbacks: 0, latency: [fast, requests, requests] };
    counts.variants.set(name, v);
  }
  return { at: at * 1000, bounds: BOUNDS, models: new Map([['fraud', counts]]) };
}

function sources(
  history: TrafficReading[],
  now: TrafficReading,
  extra: Partial<OverviewSources> = {},
): OverviewSources {
  const kept = new TrafficHistory(undefined as never, { sampleMs: 5000, keep: 100 });
  for (const r of history) kept.keepReading(r);
  return {
    now,
    windowStart: kept.windowStart(now.at, 60_000),
    history: kept.all(),
    rolloutShare: () => undefined,
    breaker: () => 'closed',
    shadows: () => [],
    gate: () => ({ inFlight: 2, queued: 1 }),
    drift: () => [],
    ...extra,
  };
}

test("the last minute's split, error rate and p99 come from the reading a minute old", () => {
  // Before the window: 1000 requests to v1 that must not count.
  const history = [reading(0, { v1: [1000, 0, 1000] }), reading(30, { v1: [1000, 0, 1000] })];
  const now = reading(90, { v1: [1300, 10, 1200], v2: [100, 0, 100] });
  const view = modelOverview('fraud', model(), sources(history, now));
  const [v1, v2] = view.variants;
  assert.equal(v1!.last_minute.requests, 300);
  assert.equal(v1!.last_minute.split_percent, 75);
  assert.equal(v2!.last_minute.split_percent, 25);
  assert.equal(v1!.last_minute.error_rate, 0.0333);
  // 200 of v1's 300 under 10 ms, 100 in (10, 100]: the 297th falls 97/100 into that bucket.
  assert.equal(v1!.last_minute.p99_ms, 97.3);
  assert.deepEqual([v1!.effective_weight, v2!.effective_weight], [100, 0]);
  assert.deepEqual(view.admission, { in_flight: 2, queued: 1, shed: [], rate_limited: [] });
});

test("a running rollout's share moves effective weight; drift's threshold is its policy's", () => {
  const config = model({
    candidate: 'v2',
    baseline: 'v1',
    steps: [10, 50],
    criteria: { drift_psi: { max: 0.1 } },
  });
  const now = reading(10, {});
  const psi = [{ variant: 'v2', feature: 'score', against: null, psi: 0.04 }];
  const view = modelOverview(
    'fraud',
    config,
    sources([], now, { rolloutShare: () => 0.1, drift: () => psi }),
  );
  assert.deepEqual(
    view.variants.map((v) => [v.weight, v.effective_weight]),
    [
      [100, 90],
      [0, 10],
    ],
  );
  assert.deepEqual(view.drift, { threshold: 0.1, threshold_source: 'rollout', psi });
  assert.equal(view.variants[0]!.last_minute.split_percent, null, 'no requests: no split');
  const plain = modelOverview('fraud', model(), sources([], now));
  assert.deepEqual(plain.drift, { threshold: DEFAULT_DRIFT_THRESHOLD, threshold_source: 'default', psi: [] });
});

test('the series has a point per interval between kept readings', () => {
  const history = [
    reading(0, { v1: [0, 0, 0] }),
    reading(5, { v1: [50, 5, 50] }),
    reading(10, { v1: [50, 5, 50] }),
    reading(15, { v1: [150, 5, 50], v2: [10, 0, 10] }),
  ];
  const { t, variants } = modelOverview('fraud', model(), sources(history, history.at(-1)!)).series;
  assert.deepEqual(t, [5, 10, 15]);
  assert.deepEqual(variants.v1!.rps, [10, 0, 20]);
  assert.deepEqual(variants.v1!.error_rate, [0.1, null, 0]);
  assert.deepEqual(variants.v2!.rps, [0, 0, 2]);
  assert.equal(variants.v1!.p99_ms[1], null, 'no requests: no p99');
});

test('history keeps a bounded number of readings and finds where a window starts', () => {
  const history = new TrafficHistory(undefined as never, { sampleMs: 5000, keep: 3 });
  for (const at of [0, 5, 10, 15, 20]) history.keepReading(reading(at, {}));
  assert.deepEqual(
    history.all().map((r) => r.at),
    [10_000, 15_000, 20_000],
  );
  assert.equal(history.windowStart(26_000, 10_000)!.at, 15_000, 'the newest at least the window old');
  assert.equal(history.windowStart(21_000, 60_000)!.at, 10_000, 'younger than the window: the oldest');
});
