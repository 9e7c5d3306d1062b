import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, type Gauge } from 'prom-client';
import type { ModelConfig } from '../config/schema.js';
import type { Finished } from '../pipeline/stage.js';
import { createDriftMetrics } from './metrics.js';
import { DriftRegistry } from './registry.js';

const CONTRACT = {
  input: 'x',
  output: 'score',
  features: [
    { name: 'amount', min: 0, max: 1000 },
    { name: 'age', min: 0, max: 100 },
  ],
  decisions: { below: 'approve', thresholds: [{ at: 0.5, decision: 'review' }] },
};

function model(
  changes: { version?: string; weights?: [number, number]; drift?: object; contract?: object | null } = {},
) {
  const [w1, w2] = changes.weights ?? [90, 10];
  return {
    variants: [
      { name: 'v1', upstream: 'u', model: 'm', version: changes.version ?? '1', weight: w1 },
      { name: 'v2', upstream: 'u', model: 'm', version: '2', weight: w2 },
    ],
    ...(changes.contract === null ? {} : { contract: changes.contract ?? CONTRACT }),
    drift: { enabled: true, window_s: 60, min_samples: 10, ...changes.drift },
  } as unknown as ModelConfig;
}

/** `count` rows of v1 at one point: amount and score both low, or both high. */
function rows(count: number, high = false): Finished {
  const row = high ? [900, 50] : [10, 50];
  return {
    ctx: {
      inference: {
        inputs: [{ name: 'x', shape: [count, 2], datatype: 'FP32', data: Array(count).fill(row).flat() }],
      },
    },
    reply: {
      ok: true,
      variant: 'v1',
      version: '1',
      response: {
        outputs: [
          { name: 'score', shape: [count, 1], datatype: 'FP32', data: Array(count).fill(high ? 0.9 : 0.1) },
        ],
      },
    },
  } as unknown as Finished;
}

async function psiOf(registry: Registry): Promise<Map<string, number>> {
  const { values } = await (registry.getSingleMetric('switchyard_drift_psi') as Gauge).get();
  return new Map(values.map((v) => [`${v.labels.variant}/${v.labels.feature}`, v.value]));
}

function setup() {
  const registry = new Registry();
  return { registry, drift: new DriftRegistry({ metrics: createDriftMetrics(registry) }) };
}

test('a reload that keeps the contract keeps the tracker and the reference it learned', async (t) => {
  const { registry, drift } = setup();
  t.after(() => drift.close());
  const first = drift.prepare('m', model(), undefined);
  first.apply();
  first.tracker!.record(rows(20));
  first.tracker!.closeWindow(); // learned: amount low, score low

  const next = drift.prepare('m', model({ weights: [50, 50], drift: { window_s: 30 } }), undefined);
  assert.equal(next.tracker, first.tracker);
  next.apply();
  next.tracker!.record(rows(20, true));
  next.tracker!.closeWindow();
  const series = await psiOf(registry);
  // Had the reference been reset, this window would have become it and exported nothing.
  assert.ok(series.get('v1/amount')! > 0.2, JSON.stringify([...series]));
  assert.ok(series.get('v1/age')! < 1e-9);
});

test('a changed contract starts afresh, and the old tracker leaves /metrics', async (t) => {
  const { registry, drift } = setup();
  t.after(() => drift.close());
  const first = drift.prepare('m', model(), undefined);
  first.apply();
  for (const _ of [1, 2]) {
    first.tracker!.record(rows(20));
    first.tracker!.closeWindow();
  }
  assert.ok((await psiOf(registry)).size > 0);

  const widened = { ...CONTRACT, features: [{ name: 'amount', min: 0, max: 2000 }, CONTRACT.features[1]] };
  const next = drift.prepare('m', model({ contract: widened }), undefined);
  assert.notEqual(next.tracker, first.tracker);
  assert.ok((await psiOf(registry)).size > 0, 'nothing changes before apply');
  next.apply();
  assert.equal((await psiOf(registry)).size, 0);
  next.tracker!.record(rows(20, true));
  next.tracker!.closeWindow(); // a new reference: nothing exported yet
  assert.equal((await psiOf(registry)).size, 0);
});

test("a variant that now serves another version learns its score afresh, keeping the features' reference", async (t) => {
  const { registry, drift } = setup();
  t.after(() => drift.close());
  const first = drift.prepare('m', model(), undefined);
  first.apply();
  first.tracker!.record(rows(20));
  first.tracker!.closeWindow();

  const next = drift.prepare('m', model({ version: '3' }), undefined);
  assert.equal(next.tracker, first.tracker);
  next.apply();
  next.tracker!.record(rows(20, true));
  next.tracker!.closeWindow();
  const series = await psiOf(registry);
  assert.ok(series.get('v1/amount')! > 0.2, 'the features kept their reference');
  assert.equal(series.get('v1/score'), undefined, "the score's window became version 3's reference");
});

test('drift off, no contract, or a model gone: no tracker, and its series leave /metrics', async (t) => {
  const { registry, drift } = setup();
  t.after(() => drift.close());
  assert.equal(drift.prepare('m', model({ drift: { enabled: false } }), undefined).tracker, undefined);
  assert.equal(drift.prepare('m', model({ contract: null }), undefined).tracker, undefined);

  const first = drift.prepare('m', model(), undefined);
  first.apply();
  for (const _ of [1, 2]) {
    first.tracker!.record(rows(20));
    first.tracker!.closeWindow();
  }
  assert.ok((await psiOf(registry)).size > 0);
  drift.retain(['other']);
  assert.equal(drift.get('m'), undefined);
  assert.equal((await psiOf(registry)).size, 0);

  const again = drift.prepare('m', model(), undefined);
  again.apply();
  drift.prepare('m', model({ drift: { enabled: false } }), undefined).apply();
  assert.equal(drift.get('m'), undefined);
});
