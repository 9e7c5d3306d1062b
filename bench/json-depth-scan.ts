/**
 * What the nesting-depth scan (src/shared/json-depth.ts) adds to each model request: ns per scan of
 * typical fraud bodies, beside JSON.parse of the same text for scale. A micro-benchmark in one
 * process, not a scenario: `npx tsx bench/json-depth-scan.ts`. Medians of 7 timed rounds, each
 * after a warm-up; run it on a quiet machine.
 */
import { FRAUD_FEATURES } from '../scripts/fraud/synthetic.js';
import { jsonDepthExceeds } from '../src/shared/json-depth.js';
import { fraudRequest, fraudRows } from '../test/harness/fraud.js';

const ITERATIONS = 200_000;
const ROUNDS = 7;

const rows = fraudRows(64);
const decision = {
  user_id: 'user-12345',
  features: Object.fromEntries(FRAUD_FEATURES.map(({ name }, i) => [name, rows[0]![i]])),
};
const bodies: [string, string][] = [
  ['decision (8 named features)', JSON.stringify(decision)],
  ['predict (1 instance)', JSON.stringify({ instances: [rows[0]] })],
  ['infer (1 row)', JSON.stringify(fraudRequest(rows.slice(0, 1), 'req-1'))],
  ['infer (64 rows)', JSON.stringify(fraudRequest(rows, 'req-64'))],
];

/** ns per call of `work` over ITERATIONS calls; the sink keeps the JIT from dropping the work. */
function time(work: () => unknown): number {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) if (work()) sink++;
  const ns = Number(process.hrtime.bigint() - started) / ITERATIONS;
  if (sink < 0) console.log(sink);
  return ns;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

console.log(`| body | bytes | scan ns | JSON.parse ns | scan / parse |`);
console.log(`| --- | ---: | ---: | ---: | ---: |`);
for (const [what, text] of bodies) {
  time(() => jsonDepthExceeds(text, 64)); // warm-up
  time(() => JSON.parse(text));
  const scans: number[] = [];
  const parses: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    scans.push(time(() => jsonDepthExceeds(text, 64)));
    parses.push(time(() => JSON.parse(text) !== undefined));
  }
  const scan = median(scans);
  const parse = median(parses);
  console.log(
    `| ${what} | ${text.length} | ${scan.toFixed(0)} | ${parse.toFixed(0)} | ${((scan / parse) * 100).toFixed(0)}% |`,
  );
}
