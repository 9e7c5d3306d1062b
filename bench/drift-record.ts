/**
 * What the drift tracker costs a request: nanoseconds per DriftTracker.record() call, in process,
 * on the fraud model's real contract and reference file, beside the rollout's evidence collector
 * (the same kind of binning, with a decision and a latency sample besides) for scale.
 *
 *   npm run bench:drift-record          (BENCH_DRIFT_CALLS, default 2000000 calls a repeat)
 *
 * A model with `drift.enabled: false` has no drift step in its after-phase at all, so it costs
 * nothing; the "empty" row is the loop and call overhead the other rows include.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Registry } from 'prom-client';
import { FRAUD_FEATURES } from '../scripts/fraud/synthetic.js';
import type { ContractConfig } from '../src/contract/config.js';
import { EvidenceCollector } from '../src/delivery/evidence.js';
import { createDriftMetrics } from '../src/drift/metrics.js';
import { parseDriftReference } from '../src/drift/reference.js';
import { DriftTracker } from '../src/drift/tracker.js';
import type { Finished } from '../src/pipeline/stage.js';
import { fraudRows } from '../test/harness/fraud.js';

const CALLS = Number(process.env.BENCH_DRIFT_CALLS ?? 2_000_000);
const REPEATS = 5;
/** Distinct requests cycled through, so the branch predictor and caches see varied values. */
const DISTINCT = 1024;

const contract: ContractConfig = {
  input: 'features',
  output: 'score',
  features: FRAUD_FEATURES.map(({ name, min, max }) => ({ name, min, max })),
  decisions: {
    below: 'approve',
    thresholds: [
      { at: 0.5, decision: 'review' },
      { at: 0.85, decision: 'decline' },
    ],
  },
};
const referenceText = readFileSync(
  new URL('../config/models/fraud/drift-reference.json', import.meta.url),
  'utf8',
);
const parsed = parseDriftReference(referenceText, contract);
if (!parsed.reference) throw new Error(JSON.stringify(parsed.problems));
const reference = parsed.reference;

/** Answered requests of v1 with `rows` rows each, as the after-phase hands them over. */
function answers(rows: number): Finished[] {
  const data = fraudRows(DISTINCT * rows, 3);
  return Array.from({ length: DISTINCT }, (_, i) => {
    const batch = data.slice(i * rows, (i + 1) * rows);
    return {
      ctx: {
        variant: { name: 'v1' },
        receivedAt: 0,
        inference: {
          inputs: [{ name: 'features', shape: [rows, 8], datatype: 'FP32', data: batch.flat() }],
        },
      },
      reply: {
        ok: true,
        variant: 'v1',
        version: '1',
        response: {
          outputs: [
            {
              name: 'score',
              shape: [rows, 1],
              datatype: 'FP32',
              data: batch.map((row, r) => ((row[0]! + r) % 1000) / 1000),
            },
          ],
        },
      },
      response: { status: 200, body: null },
      stageNames: [],
      pipelineMs: 0,
      finishedAt: 1,
    } as unknown as Finished;
  });
}

function tracker(withFile: boolean): DriftTracker {
  const made = new DriftTracker(
    'fraud',
    contract,
    withFile ? reference : undefined,
    createDriftMetrics(new Registry()),
  );
  made.configure({ enabled: true, window_s: 60, min_samples: 500, reference: undefined }, [
    { name: 'v1', model: 'fraud', version: '1' },
  ]);
  return made;
}

/**
 * CPU nanoseconds per call, median of REPEATS runs of CALLS calls per case, the cases interleaved
 * (A B C D A B C D …) so a busy moment of the machine hits them alike. CPU time of this process
 * rather than wall time: another process taking the CPU away does not count.
 */
function measure(cases: Case[], inputs: Finished[]): number[] {
  const run = (record: (finished: Finished) => void, calls: number) => {
    for (let i = 0; i < calls; i++) record(inputs[i & (DISTINCT - 1)]!);
  };
  for (const { record } of cases) run(record, CALLS / 4); // warm-up: JIT, inline caches
  const results: number[][] = cases.map(() => []);
  for (let r = 0; r < REPEATS; r++) {
    cases.forEach(({ record, reset }, c) => {
      reset(); // each repeat starts alike, and Int32 counts stay far from overflow
      const start = process.cpuUsage();
      run(record, CALLS);
      const used = process.cpuUsage(start);
      results[c]!.push(((used.user + used.system) * 1000) / CALLS);
    });
  }
  return results.map((ns) => ns.sort((a, b) => a - b)[Math.floor(REPEATS / 2)]!);
}

interface Case {
  name: string;
  record: (finished: Finished) => void;
  reset: () => void;
}

const rows: [string, string][] = [];
for (const rowsPerRequest of [1, 32]) {
  const inputs = answers(rowsPerRequest);
  const withFile = tracker(true);
  const equalWidth = tracker(false);
  const evidence = new EvidenceCollector({ baseline: 'v1', candidate: 'v2' }, contract);
  let sink = 0;
  const cases: Case[] = [
    { name: 'empty (a call that does nothing)', record: (f) => (sink += f.pipelineMs), reset: () => {} },
    {
      name: 'drift, reference file (decile edges)',
      record: (f) => withFile.record(f),
      reset: () => withFile.closeWindow(),
    },
    {
      name: 'drift, no file (equal-width bins)',
      record: (f) => equalWidth.record(f),
      reset: () => equalWidth.closeWindow(),
    },
    {
      name: 'rollout evidence (for scale)',
      record: (f) => evidence.recordAnswer(f),
      reset: () => evidence.reset(),
    },
  ];
  measure(cases, inputs).forEach((ns, c) => {
    rows.push([`${cases[c]!.name}, ${rowsPerRequest} row${rowsPerRequest > 1 ? 's' : ''}`, ns.toFixed(1)]);
  });
  if (sink < 0) console.log(sink);
}

const width = Math.max(...rows.map(([name]) => name.length));
console.log(
  `CPU ns per record() call, median of ${REPEATS} interleaved runs of ${CALLS} calls (node ${process.version}, load ${loadavg()[0]!.toFixed(2)})`,
);
for (const [name, ns] of rows) console.log(`  ${name.padEnd(width)}  ${ns.padStart(7)}`);
