import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  failingOutright,
  meanAtMostCheck,
  p99RatioCheck,
  proportionAtLeastCheck,
  psi,
  psiAtMostCheck,
  rateChangeCheck,
  rateIncreaseCheck,
  type CheckResult,
  type Verdict,
} from './statistics.js';

const near = (actual: number, expected: number, tolerance: number, what = ''): void =>
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what} ${actual} is not within ${tolerance} of ${expected}`,
  );

function interval(result: CheckResult): [number, number] {
  assert.ok(result.interval, `no interval in ${JSON.stringify(result)}`);
  return result.interval;
}

/** 1..n in a scrambled order, so nothing relies on the input being sorted. */
function scrambled(n: number): number[] {
  const values = Array.from({ length: n }, (_, i) => i + 1);
  for (let i = n - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
}

// Order-statistic ranks and a PSI worked out independently with exact binomial sums (Python
// fractions): Binomial(368, 0.01) gives the lower rank 360; Binomial(1000, 0.01) gives 983 and 997.
const LOW_RANK_368 = 360;
const LOW_RANK_1000 = 983;
const HIGH_RANK_1000 = 997;
const PSI_90_10 = 0.853059;

const VERDICT_ORDER: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };

// --- proportions: Wilson and Newcombe against published values -----------------------------------

test('Wilson interval matches Newcombe (1998a) Table I, method 3', () => {
  const cases: [number, number, number, number][] = [
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ];
  for (const [events, total, low, high] of cases) {
    const [l, h] = interval(proportionAtLeastCheck({ events, total }, 0.5, 1));
    near(l, low, 5e-5, `${events}/${total} low`);
    near(h, high, 5e-5, `${events}/${total} high`);
  }
});

test('Wilson at zero events is [0, z²/(n+z²)], by hand', () => {
  const z2 = 1.959963984540054 ** 2;
  const [low, high] = interval(proportionAtLeastCheck({ events: 0, total: 1000 }, 0.5, 1));
  assert.equal(low, 0);
  near(high, z2 / (1000 + z2), 1e-12);
  const [allLow, allHigh] = interval(proportionAtLeastCheck({ events: 1000, total: 1000 }, 0.5, 1));
  near(allLow, 1000 / (1000 + z2), 1e-12);
  assert.equal(allHigh, 1);
});

test('Newcombe hybrid score interval matches Newcombe (1998b) Table II, method 10, and a hand calculation', () => {
  const cases: [Proportion2, number, number][] = [
    [[56, 70, 48, 80], 0.0524, 0.3339],
    [[9, 10, 3, 10], 0.1705, 0.809],
    // Worked by hand: Wilson 6/7 = [0.48687, 0.97432], 2/7 = [0.08222, 0.64107], then
    // 4/7 ∓ √((6/7 − 0.48687)² + (0.64107 − 2/7)²) and √((0.97432 − 6/7)² + (2/7 − 0.08222)²).
    [[6, 7, 2, 7], 0.0582, 0.8062],
    [[5, 56, 0, 29], -0.0381, 0.1926],
    [[0, 10, 0, 20], -0.1611, 0.2775],
    [[0, 10, 0, 10], -0.2775, 0.2775],
    [[10, 10, 0, 20], 0.6791, 1],
  ];
  for (const [[ce, ct, be, bt], low, high] of cases) {
    const result = rateIncreaseCheck({ events: ce, total: ct }, { events: be, total: bt }, 1, 1);
    near(result.value!, ce / ct - be / bt, 1e-12, 'difference');
    const [l, h] = interval(result);
    near(l, low, 5e-5, `${ce}/${ct} − ${be}/${bt} low`);
    near(h, high, 5e-5, `${ce}/${ct} − ${be}/${bt} high`);
  }
});
type Proportion2 = [number, number, number, number];

test('rate increase: pass, fail and too close to call around the threshold', () => {
  const candidate = { events: 56, total: 70 };
  const baseline = { events: 48, total: 80 }; // difference 0.2, 95% CI 0.0524..0.3339
  assert.equal(rateIncreaseCheck(candidate, baseline, 0.4, 50).verdict, 'pass');
  assert.equal(rateIncreaseCheck(candidate, baseline, 0.04, 50).verdict, 'fail');
  const close = rateIncreaseCheck(candidate, baseline, 0.2, 50);
  assert.equal(close.verdict, 'inconclusive');
  assert.match(close.reason, /too close to call/);
  assert.deepEqual(close.samples, { candidate: 70, baseline: 80 });
});

test('rate increase: zero errors on both sides gives a real interval and passes with enough traffic', () => {
  const none = { events: 0, total: 1000 };
  const result = rateIncreaseCheck(none, none, 0.01, 100);
  assert.equal(result.value, 0);
  const [low, high] = interval(result);
  assert.ok(high > 0 && low < 0, 'zero counts still leave uncertainty');
  near(high, -low, 1e-15, 'symmetric');
  assert.equal(result.verdict, 'pass');
  // The same zero counts over 10 requests each cannot rule out a 1% increase.
  const few = { events: 0, total: 10 };
  assert.equal(rateIncreaseCheck(few, few, 0.01, 10).verdict, 'inconclusive');
});

test('rate increase: more candidate errors never move the interval down or the verdict back', () => {
  const baseline = { events: 20, total: 1000 };
  let previous: [number, number] = [-Infinity, -Infinity];
  let previousOrder = 0;
  const seen = new Set<Verdict>();
  for (let events = 0; events <= 100; events++) {
    const result = rateIncreaseCheck({ events, total: 1000 }, baseline, 0.02, 100);
    const [low, high] = interval(result);
    assert.ok(low >= previous[0] && high >= previous[1], `bounds fell at ${events} errors`);
    assert.ok(low <= result.value! && result.value! <= high, 'the estimate is inside its interval');
    assert.ok(VERDICT_ORDER[result.verdict] >= previousOrder, `verdict went back at ${events} errors`);
    previous = [low, high];
    previousOrder = VERDICT_ORDER[result.verdict];
    seen.add(result.verdict);
  }
  assert.deepEqual([...seen], ['pass', 'inconclusive', 'fail']);
});

test('rate change: fails only when the whole interval is past one edge', () => {
  const lower = { events: 48, total: 80 };
  const higher = { events: 56, total: 70 };
  // candidate − baseline = −0.2, 95% CI −0.3339..−0.0524
  const drop = rateChangeCheck(lower, higher, 0.04, 1);
  assert.equal(drop.verdict, 'fail');
  near(drop.value!, -0.2, 1e-12);
  assert.equal(rateChangeCheck(lower, higher, 0.4, 1).verdict, 'pass');
  assert.equal(rateChangeCheck(lower, higher, 0.2, 1).verdict, 'inconclusive');
  assert.equal(rateChangeCheck(higher, lower, 0.04, 1).verdict, 'fail', 'a rise fails like a drop');
  // −0.2775..0.2775 lies past both edges of ±0.1 but straddles the good band: not a fail.
  const wide = rateChangeCheck({ events: 0, total: 10 }, { events: 0, total: 10 }, 0.1, 1);
  assert.equal(wide.verdict, 'inconclusive');
});

test('rates: fewer than minSamples on either side is inconclusive and says how many are missing', () => {
  const result = rateIncreaseCheck({ events: 40, total: 60 }, { events: 0, total: 200 }, 0.01, 100);
  assert.equal(result.verdict, 'inconclusive');
  assert.equal(result.value, null);
  assert.equal(result.interval, undefined);
  assert.deepEqual(result.samples, { candidate: 60, baseline: 200 });
  assert.match(result.reason, /40 more candidate samples/);
  assert.doesNotMatch(result.reason, /baseline/);
  const both = rateChangeCheck({ events: 0, total: 0 }, { events: 0, total: 99 }, 0.01, 100);
  assert.match(both.reason, /100 more candidate samples and 1 more baseline sample\b/);
  // Nothing to estimate from zero requests, even with minSamples 0.
  const empty = rateIncreaseCheck({ events: 0, total: 0 }, { events: 0, total: 0 }, 0.01, 0);
  assert.equal(empty.verdict, 'inconclusive');
  assert.equal(empty.value, null);
});

test('rates: impossible counts are refused', () => {
  assert.throws(
    () => rateIncreaseCheck({ events: 5, total: 4 }, { events: 0, total: 4 }, 0.1, 1),
    RangeError,
  );
  assert.throws(() => rateChangeCheck({ events: 0, total: 4 }, { events: -1, total: 4 }, 0.1, 1), RangeError);
  assert.throws(() => proportionAtLeastCheck({ events: Number.NaN, total: 4 }, 0.9, 1), RangeError);
});

test('agreement: Wilson lower bound against the minimum, paired sample counts', () => {
  const observed = { events: 81, total: 263 }; // 95% CI 0.2553..0.3662
  const pass = proportionAtLeastCheck(observed, 0.2, 100);
  assert.equal(pass.verdict, 'pass');
  near(pass.value!, 81 / 263, 1e-12);
  assert.deepEqual(pass.samples, { candidate: 263, baseline: 263 });
  assert.equal(proportionAtLeastCheck(observed, 0.4, 100).verdict, 'fail');
  assert.equal(proportionAtLeastCheck(observed, 0.3, 100).verdict, 'inconclusive');
  // Perfect agreement: 20 requests cannot show ≥ 90% (lower bound 0.839), 200 can (0.981).
  assert.equal(proportionAtLeastCheck({ events: 20, total: 20 }, 0.9, 20).verdict, 'inconclusive');
  assert.equal(proportionAtLeastCheck({ events: 200, total: 200 }, 0.9, 20).verdict, 'pass');
  const short = proportionAtLeastCheck({ events: 95, total: 95 }, 0.9, 100);
  assert.equal(short.verdict, 'inconclusive');
  assert.match(short.reason, /needs 5 more samples/);
});

// --- p99 ratio -----------------------------------------------------------------------------------

const constant = (n: number, value: number): number[] => new Array<number>(n).fill(value);

test('p99 interval from order statistics: ranks for n = 100 by hand, no upper bound below 368', () => {
  // M ~ Binomial(100, 0.01): P(M ≤ 2) = 0.9206, P(M ≤ 3) = 0.9816 → lower bound x(100 − 3) = x(97);
  // P(M = 0) = 0.366 > 0.025 → no upper bound. Point estimate x(⌈99⌉) = x(99).
  const result = p99RatioCheck(scrambled(100), constant(1000, 10), 100, 100);
  near(result.value!, 9.9, 1e-12, 'ratio');
  const [low, high] = interval(result);
  near(low, 9.7, 1e-12, 'low');
  assert.equal(high, Infinity);
  assert.equal(result.verdict, 'inconclusive', 'an unbounded candidate p99 can never pass');
  assert.match(result.reason, /candidate p99 has no 95% upper bound below 368 samples/);
  assert.equal(p99RatioCheck(scrambled(100), constant(1000, 10), 2, 100).verdict, 'fail');
});

test('p99 interval: 367 samples still have no upper bound, 368 have the maximum', () => {
  // 0.99^367 = 0.02501 > 0.025 ≥ 0.99^368 = 0.02476.
  const at367 = p99RatioCheck(scrambled(367), constant(1000, 1), 1000, 1);
  assert.equal(interval(at367)[1], Infinity);
  const at368 = p99RatioCheck(scrambled(368), constant(1000, 1), 1000, 1);
  assert.equal(interval(at368)[1], 368);
  assert.equal(at368.value, 365, 'nearest rank ⌈0.99 · 368⌉ = 365');
  assert.equal(interval(at368)[0], LOW_RANK_368);
  assert.equal(at368.verdict, 'pass');
});

test('p99 ratio interval is (candidate low / baseline high, candidate high / baseline low)', () => {
  const candidate = scrambled(1000).map((v) => v * 3);
  const baseline = scrambled(1000);
  const result = p99RatioCheck(candidate, baseline, 2, 500);
  near(result.value!, 3, 1e-12, 'ratio of p99s 2970/990');
  const [low, high] = interval(result);
  near(low, (3 * LOW_RANK_1000) / HIGH_RANK_1000, 1e-12, 'low');
  near(high, (3 * HIGH_RANK_1000) / LOW_RANK_1000, 1e-12, 'high');
  assert.equal(result.verdict, 'fail');
  const same = p99RatioCheck(scrambled(1000), baseline, 1.1, 500);
  assert.equal(same.value, 1);
  assert.equal(same.verdict, 'pass');
  assert.equal(p99RatioCheck(scrambled(1000), baseline, 1, 500).verdict, 'inconclusive');
});

test('p99 ratio: the baseline without an upper bound cannot fail the candidate', () => {
  const result = p99RatioCheck(constant(1000, 500), scrambled(100), 2, 100);
  assert.equal(interval(result)[0], 0);
  assert.equal(result.verdict, 'inconclusive');
  assert.match(result.reason, /baseline p99 has no 95% upper bound/);
});

test('p99 ratio: NaN latencies are left out, zero latencies give no NaN', () => {
  const withNaN = [...scrambled(400), Number.NaN, Number.NaN];
  const result = p99RatioCheck(withNaN, scrambled(400), 2, 400);
  assert.deepEqual(result.samples, { candidate: 400, baseline: 400 });
  assert.equal(result.value, 1);
  const zeros = p99RatioCheck(constant(400, 0), constant(400, 0), 2, 1);
  assert.equal(zeros.value, null, '0 ms over 0 ms has no ratio');
  assert.deepEqual(interval(zeros), [0, Infinity]);
  assert.equal(zeros.verdict, 'inconclusive');
  const short = p99RatioCheck(scrambled(10), scrambled(500), 2, 400);
  assert.match(short.reason, /390 more candidate samples/);
  assert.equal(short.value, null);
});

// --- mean of |score delta| ----------------------------------------------------------------------

function moments(values: number[]) {
  return {
    n: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    sumOfSquares: values.reduce((a, b) => a + b * b, 0),
  };
}

test('mean interval uses Student t: closed forms for 1 and 2 degrees of freedom', () => {
  // {1, 3}: mean 2, s² = 2, s/√n = 1; t(0.975, 1) = tan(0.475π).
  const two = meanAtMostCheck(moments([1, 3]), 100, 2);
  assert.equal(two.value, 2);
  const [low2, high2] = interval(two);
  assert.equal(low2, 0, 'clamped at 0: the values are non-negative');
  near(high2, 2 + Math.tan(0.475 * Math.PI), 1e-9);
  // {10, 11, 12}: mean 11, s = 1, s/√n = 1/√3; t(0.975, 2) = 0.95/√(2 · 0.975 · 0.025).
  const three = meanAtMostCheck(moments([10, 11, 12]), 100, 2);
  const t2 = 0.95 / Math.sqrt(2 * 0.975 * 0.025);
  const [low3, high3] = interval(three);
  near(low3, 11 - t2 / Math.sqrt(3), 1e-9);
  near(high3, 11 + t2 / Math.sqrt(3), 1e-9);
});

test('mean interval: t quantiles match tables and shrink towards z as n grows', () => {
  const tOf = (degrees: number): number => {
    // degrees + 1 values alternating 0 and 2; read t back from the interval's half-width.
    const values = Array.from({ length: degrees + 1 }, (_, i) => (i % 2 === 0 ? 0 : 2));
    const m = moments(values);
    const mean = m.sum / m.n;
    const s = Math.sqrt((m.sumOfSquares - m.sum * mean) / (m.n - 1));
    const result = meanAtMostCheck(m, 100, 2);
    return (interval(result)[1] - mean) / (s / Math.sqrt(m.n));
  };
  near(tOf(10), 2.228139, 1e-6, 't(0.975, 10)');
  near(tOf(30), 2.042272, 1e-6, 't(0.975, 30)');
  near(tOf(99), 1.984217, 1e-6, 't(0.975, 99)');
  near(tOf(100), 1.983972, 1e-6, 't(0.975, 100)');
  let previous = Infinity;
  for (let degrees = 1; degrees <= 300; degrees++) {
    const t = tOf(degrees);
    assert.ok(t < previous && t > 1.959963984540054, `t(0.975, ${degrees}) = ${t}`);
    previous = t;
  }
});

test('mean: verdicts against the limit, and at least two values whatever minSamples says', () => {
  const steady = moments(constant(10_000, 0.1));
  assert.equal(meanAtMostCheck(steady, 0.2, 100).verdict, 'pass');
  assert.equal(meanAtMostCheck(steady, 0.05, 100).verdict, 'fail');
  const noisy = moments([0, 0.2, 0, 0.2, 0, 0.2]); // mean 0.1, wide interval
  assert.equal(meanAtMostCheck(noisy, 0.15, 2).verdict, 'inconclusive');
  const one = meanAtMostCheck(moments([0.1]), 0.2, 0);
  assert.equal(one.verdict, 'inconclusive');
  assert.equal(one.value, null);
  assert.match(one.reason, /needs 1 more sample\b/);
  assert.deepEqual(meanAtMostCheck(moments([1, 2]), 5, 50).samples, { candidate: 2, baseline: 2 });
  assert.throws(() => meanAtMostCheck({ n: -1, sum: 0, sumOfSquares: 0 }, 1, 1), RangeError);
});

// --- PSI ----------------------------------------------------------------------------------------

test('PSI by hand, with ½ added to every bin', () => {
  // Smoothed: (0.5/101, 100.5/101) against the reverse: 2 · (100/101) · ln(100.5/0.5).
  near(psi([0, 100], [100, 0]), (200 / 101) * Math.log(201), 1e-12);
  near(psi([0, 100], [100, 0]), 10.5016, 1e-5);
  // (90.5/101 − ½)·ln((90.5/101)/½) + (10.5/101 − ½)·ln((10.5/101)/½)
  near(psi([90, 10], [50, 50]), PSI_90_10, 1e-5);
  assert.equal(psi([30, 70], [30, 70]), 0);
  assert.equal(psi([], []), 0);
});

test('PSI is symmetric, finite with empty bins, and grows with the shift', () => {
  assert.equal(psi([1, 2, 3], [3, 2, 1]), psi([3, 2, 1], [1, 2, 3]));
  assert.ok(Number.isFinite(psi([0, 0, 10], [10, 0, 0])));
  let previous = -1;
  for (let moved = 0; moved <= 50; moved += 5) {
    const value = psi([50 - moved, 50 + moved], [50, 50]);
    assert.ok(value > previous, `PSI ${value} after moving ${moved}`);
    previous = value;
  }
  assert.throws(() => psi([1, 2], [1, 2, 3]), RangeError);
  assert.throws(() => psi([1, -2], [1, 2]), RangeError);
});

test('PSI check: the no-drift bias (k−1)(1/n_c + 1/n_b) is the inconclusive band', () => {
  const flat = (perBin: number): number[] => constant(10, perBin);
  // 10 bins, 100 per side: bias 9 · (1/100 + 1/100) = 0.18.
  const hundred = psiAtMostCheck(flat(10), flat(10), 0.2, 50);
  assert.equal(hundred.value, 0);
  near(interval(hundred)[1], 0.18, 1e-12);
  assert.equal(hundred.verdict, 'pass');
  // 50 per side: bias 0.36, identical histograms still cannot show PSI ≤ 0.2.
  assert.equal(psiAtMostCheck(flat(5), flat(5), 0.2, 50).verdict, 'inconclusive');
  // Bins empty on both sides do not widen the band.
  const padded = [...flat(10), ...constant(10, 0)];
  near(interval(psiAtMostCheck(padded, padded, 0.2, 50))[1], 0.18, 1e-12);
  // Real drift with plenty of samples fails.
  assert.equal(psiAtMostCheck([9000, 1000], [5000, 5000], 0.25, 100).verdict, 'fail');
  // 20 requests over 10 bins: PSI 0.41 is over 0.25, but the noise alone is 9 · (2/20) = 0.9.
  const candidate = constant(10, 2);
  const baseline = [6, 4, 2, 2, 2, 1, 1, 1, 1, 0];
  const small = psiAtMostCheck(candidate, baseline, 0.25, 20);
  assert.equal(small.verdict, 'inconclusive');
  assert.ok(small.value! > 0.25, 'the estimate alone is over the limit');
  near(interval(small)[1], small.value! + 0.9, 1e-12);
  assert.deepEqual(small.samples, { candidate: 20, baseline: 20 });
  // The same proportions from 100 times the traffic: the band shrinks to 0.009 and it fails.
  const large = psiAtMostCheck(
    candidate.map((c) => c * 100),
    baseline.map((b) => b * 100),
    0.25,
    20,
  );
  assert.equal(large.verdict, 'fail');
  const short = psiAtMostCheck([9, 1], [5, 5], 0.25, 100);
  assert.match(short.reason, /90 more candidate samples and 90 more baseline samples/);
});

// --- failing outright ---------------------------------------------------------------------------

test('failing outright: at least half errors over at least 20 requests', () => {
  assert.equal(failingOutright({ events: 10, total: 20 }), true);
  assert.equal(failingOutright({ events: 9, total: 20 }), false);
  assert.equal(failingOutright({ events: 19, total: 19 }), false, 'too few requests to judge');
  assert.equal(failingOutright({ events: 11, total: 21 }), true);
  assert.equal(failingOutright({ events: 10, total: 21 }), false);
  assert.equal(failingOutright({ events: 0, total: 0 }), false);
  assert.equal(failingOutright({ events: 1000, total: 1000 }), true);
  assert.throws(() => failingOutright({ events: 3, total: 2 }), RangeError);
});
