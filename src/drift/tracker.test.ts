import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry, type Gauge } from 'prom-client';
import { seededRandom } from '../../test/harness/upstream-servers.js';
import type { ContractConfig } from '../contract/config.js';
import type { Finished } from '../pipeline/stage.js';
import { quantileHistogram } from './build-reference.js';
import { DRIFT_DEFAULTS, type DriftConfig } from './config.js';
import { createDriftMetrics } from './metrics.js';
import type { DriftReference } from './reference.js';
import { DriftTracker } from './tracker.js';

const CONTRACT: ContractConfig = {
  input: 'x',
  output: 'score',
  features: [
    { name: 'amount', min: 0, max: 1000 },
    { name: 'age', min: 0, max: 100 },
    { name: 'flag', min: 0, max: 1 },
  ],
  decisions: { below: 'approve', thresholds: [{ at: 0.5, decision: 'review' }] },
};

/** One row and its score; `shifted` moves the amount toward its max and leaves the rest alone. */
function sampleRow(random: () => number, shifted = false): { row: number[]; score: number } {
  const amount = 1000 * (shifted ? Math.sqrt(random()) : random() ** 3);
  const age = 100 * random();
  const flag = random() < 0.2 ? 1 : 0;
  return { row: [amount, age, flag], score: (amount / 1000 + age / 100 + flag) / 3 };
}

/** A reference file's content for CONTRACT, from `count` unshifted rows (version '1' of model 'm'). */
function referenceOf(count: number, seed: number): DriftReference {
  const random = seededRandom(seed);
  const samples = Array.from({ length: count }, () => sampleRow(random));
  const column = (c: number) => samples.map((s) => s.row[c]!);
  return {
    model: 'm',
    features: Object.fromEntries(
      CONTRACT.features.map((f, c) => [f.name, quantileHistogram(column(c), { min: f.min!, max: f.max! })]),
    ),
    scores: {
      '1': quantileHistogram(
        samples.map((s) => s.score),
        { min: 0, max: 1 },
      ),
    },
  };
}

/** An answered request of `variant` carrying `rows` (as the after-phase hands it over). */
function answered(
  variant: string,
  samples: { row: number[]; score: number }[],
  reply: Record<string, unknown> = {},
): Finished {
  return {
    ctx: {
      inference: {
        inputs: [
          { name: 'x', shape: [samples.length, 3], datatype: 'FP32', data: samples.flatMap((s) => s.row) },
        ],
      },
    },
    reply: {
      ok: true,
      variant,
      version: '1',
      response: {
        model_name: 'm',
        outputs: [
          { name: 'score', shape: [samples.length, 1], datatype: 'FP32', data: samples.map((s) => s.score) },
        ],
      },
      ...reply,
    },
    response: { status: 200, body: null },
    stageNames: [],
    pipelineMs: 0,
    finishedAt: 0,
  } as unknown as Finished;
}

/** Feeds `rows` rows to `variant`, ten a request. */
function feed(tracker: DriftTracker, variant: string, rows: number, random: () => number, shifted = false) {
  for (let sent = 0; sent < rows; sent += 10) {
    tracker.record(
      answered(
        variant,
        Array.from({ length: Math.min(10, rows - sent) }, () => sampleRow(random, shifted)),
      ),
    );
  }
}

/** Every switchyard_drift_psi series as `variant/feature/against` → value. */
async function psiSeries(registry: Registry): Promise<Map<string, number>> {
  const gauge = registry.getSingleMetric('switchyard_drift_psi') as Gauge;
  const { values } = await gauge.get();
  return new Map(values.map((v) => [`${v.labels.variant}/${v.labels.feature}/${v.labels.against}`, v.value]));
}

async function windowRows(registry: Registry): Promise<Map<string, number>> {
  const gauge = registry.getSingleMetric('switchyard_drift_window_rows') as Gauge;
  const { values } = await gauge.get();
  return new Map(values.map((v) => [String(v.labels.variant), v.value]));
}

const SETTINGS: DriftConfig = { ...DRIFT_DEFAULTS, min_samples: 500 };
const VARIANTS = [
  { name: 'v1', model: 'm', version: '1' },
  { name: 'v2', model: 'm', version: '2' },
];

function trackerWith(reference: DriftReference | undefined, settings = SETTINGS) {
  const registry = new Registry();
  const tracker = new DriftTracker('m', CONTRACT, reference, createDriftMetrics(registry));
  tracker.configure(settings, VARIANTS);
  return { registry, tracker };
}

test('against a reference file: PSI near 0 for the same distribution, above 0.2 for the feature that shifted', async (t) => {
  const { registry, tracker } = trackerWith(referenceOf(20000, 1));
  const random = seededRandom(2);
  feed(tracker, 'v1', 2000, random);
  tracker.closeWindow();
  const same = await psiSeries(registry);
  for (const feature of ['score', 'amount', 'age', 'flag']) {
    const value = same.get(`v1/${feature}/reference`);
    assert.ok(value !== undefined && value < 0.05, `${feature}: PSI ${value} for the same distribution`);
  }

  feed(tracker, 'v1', 2000, random, true);
  tracker.closeWindow();
  const shifted = await psiSeries(registry);
  t.diagnostic(`same: ${JSON.stringify([...same])}; shifted: ${JSON.stringify([...shifted])}`);
  assert.ok(shifted.get('v1/amount/reference')! > 0.2, `amount: PSI ${shifted.get('v1/amount/reference')}`);
  for (const feature of ['age', 'flag']) {
    const value = shifted.get(`v1/${feature}/reference`)!;
    assert.ok(value < 0.05, `${feature} did not shift, yet PSI ${value}`);
  }
  // v2 serves version 2, which the file has no scores for, and had no traffic: nothing to say.
  assert.equal(shifted.get('v2/score/reference'), undefined);
});

test('a window thinner than min_samples exports no PSI, and takes the last one back', async () => {
  const { registry, tracker } = trackerWith(referenceOf(20000, 1));
  const random = seededRandom(3);
  feed(tracker, 'v1', 600, random);
  tracker.closeWindow();
  assert.ok((await psiSeries(registry)).has('v1/amount/reference'));
  assert.equal((await windowRows(registry)).get('v1'), 600);

  feed(tracker, 'v1', 499, random);
  tracker.closeWindow();
  assert.deepEqual([...(await psiSeries(registry)).keys()], []);
  assert.equal((await windowRows(registry)).get('v1'), 499);
  assert.equal((await windowRows(registry)).get('v2'), 0);
});

test('without a file, the first window of min_samples rows becomes the reference', async () => {
  const { registry, tracker } = trackerWith(undefined);
  const random = seededRandom(4);
  feed(tracker, 'v1', 300, random); // too few to be a reference
  tracker.closeWindow();
  feed(tracker, 'v1', 1000, random); // the reference
  tracker.closeWindow();
  assert.deepEqual(
    [...(await psiSeries(registry)).keys()],
    [],
    'the reference window itself exports nothing',
  );

  feed(tracker, 'v1', 1000, random);
  tracker.closeWindow();
  const same = await psiSeries(registry);
  for (const feature of ['score', 'amount', 'age', 'flag']) {
    const value = same.get(`v1/${feature}/reference`);
    assert.ok(value !== undefined && value < 0.1, `${feature}: PSI ${value} for the same distribution`);
  }
  feed(tracker, 'v1', 1000, random, true);
  tracker.closeWindow();
  assert.ok((await psiSeries(registry)).get('v1/amount/reference')! > 0.2);
});

test('fallback answers, refusals, other variants and rows without a number are not counted', async () => {
  const { registry, tracker } = trackerWith(undefined);
  const random = seededRandom(5);
  const rows = () => Array.from({ length: 10 }, () => sampleRow(random));
  tracker.record(answered('v1', rows(), { fallback: { kind: 'variant', reason: 'upstream_error' } }));
  tracker.record({ ...answered('v1', rows()), reply: { ok: false } } as unknown as Finished);
  tracker.record(answered('v9', rows()));
  tracker.record(answered('v1', rows(), { response: undefined })); // a default decision
  const nonNumeric = answered('v1', rows());
  (nonNumeric.reply as { response: { outputs: { data: unknown[] }[] } }).response.outputs[0]!.data.fill(null);
  tracker.record(nonNumeric);
  tracker.closeWindow();
  assert.equal((await windowRows(registry)).get('v1'), 0);
});

test('nested input data (allowed on /v2 infer) is read like flat data', async () => {
  const { registry, tracker } = trackerWith(undefined, { ...SETTINGS, min_samples: 10 });
  const random = seededRandom(6);
  const samples = Array.from({ length: 20 }, () => sampleRow(random));
  const nested = answered('v1', samples);
  (nested.ctx.inference!.inputs[0] as { data: unknown }).data = samples.map((s) => s.row);
  tracker.record(nested);
  tracker.closeWindow(); // the reference
  tracker.record(nested);
  tracker.closeWindow();
  const series = await psiSeries(registry);
  assert.ok(series.get('v1/amount/reference')! < 1e-9, 'the same rows again: PSI 0');
});

test('stop takes every series of the tracker off /metrics', async () => {
  const { registry, tracker } = trackerWith(referenceOf(2000, 1), { ...SETTINGS, min_samples: 10 });
  feed(tracker, 'v1', 100, seededRandom(7));
  tracker.closeWindow();
  assert.ok((await psiSeries(registry)).size > 0);
  tracker.stop();
  assert.equal((await psiSeries(registry)).size, 0);
  assert.equal((await windowRows(registry)).size, 0);
});
