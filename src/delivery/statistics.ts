/**
 * The statistics behind progressive delivery: each check compares a candidate variant with the
 * baseline from the evidence accumulated so far and answers pass, fail or inconclusive.
 *
 * The rule is the same everywhere: with fewer than minSamples on either side the answer is
 * inconclusive; otherwise a 95% interval for the statistic is computed and the check passes when
 * the whole interval is on the good side of the threshold, fails when the whole interval is on the
 * bad side, and is inconclusive ("too close to call") when the interval straddles it. Inconclusive
 * holds the rollout step; it never promotes.
 *
 * Repeated looks: the controller runs every check again each interval on growing evidence. One
 * look at a candidate sitting exactly on the threshold fails by chance only when the interval's
 * near bound lands past it, about 2.5% of the time (somewhat more for the p99 ratio and PSI, see
 * there), but looking again and again inflates the chance that some look fails by luck (the
 * optional-stopping problem of sequential testing). These functions do not correct for it (no alpha spending);
 * the controller's `failure_limit`, a number of consecutive failed intervals before a rollback, is
 * what guards against it. A genuinely broken candidate is caught sooner by failingOutright().
 */

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface CheckResult {
  verdict: Verdict;
  /** The statistic's point estimate (e.g. the rate difference, the p99 ratio, the PSI); null when nothing to estimate. */
  value: number | null;
  /**
   * The interval used for the verdict, when there is one: a 95% confidence interval, except for
   * PSI, where it is the small-sample bias band (see psiAtMostCheck). An unbounded side is
   * ±Infinity (the p99 of fewer than 368 samples has no distribution-free 95% upper bound).
   */
  interval?: [number, number];
  samples: { candidate: number; baseline: number };
  /** One sentence a human reads in the rollout history: why this verdict. */
  reason: string;
}

export interface Proportion {
  events: number;
  total: number;
}

/** The 0.975 quantile of the standard normal: two-sided 95% intervals. */
const Z_95 = 1.959963984540054;

// ---------------------------------------------------------------------------------------------
// Shared verdict plumbing

interface Judged {
  value: number | null;
  interval: [number, number];
  samples: { candidate: number; baseline: number };
  /** Both bounds good → pass; both bad → fail. */
  good: (bound: number) => boolean;
  bad: (bound: number) => boolean;
  /** "error rate difference +0.40% (95% CI -0.10% to +0.90%)" */
  describe: string;
  /** "at most +1.00%" */
  limit: string;
}

function judge(j: Judged): CheckResult {
  const [low, high] = j.interval;
  const base = { value: j.value, interval: j.interval, samples: j.samples };
  if (j.good(low) && j.good(high)) {
    return { ...base, verdict: 'pass', reason: `${j.describe} is entirely within the limit (${j.limit})` };
  }
  if (j.bad(low) && j.bad(high)) {
    return { ...base, verdict: 'fail', reason: `${j.describe} is entirely past the limit (${j.limit})` };
  }
  return {
    ...base,
    verdict: 'inconclusive',
    reason: `too close to call: ${j.describe} straddles the limit (${j.limit})`,
  };
}

/** The inconclusive answer while evidence is still short, saying how much is missing. */
function tooFewSamples(
  samples: { candidate: number; baseline: number },
  minSamples: number,
  paired = false,
): CheckResult | undefined {
  const missingCandidate = Math.max(0, minSamples - samples.candidate);
  const missingBaseline = paired ? 0 : Math.max(0, minSamples - samples.baseline);
  if (missingCandidate === 0 && missingBaseline === 0) return undefined;
  const more = (count: number, what: string): string => `${count} more ${what}${count === 1 ? '' : 's'}`;
  const missing = [
    missingCandidate > 0 ? more(missingCandidate, paired ? 'sample' : 'candidate sample') : '',
    missingBaseline > 0 ? more(missingBaseline, 'baseline sample') : '',
  ].filter((part) => part !== '');
  return {
    verdict: 'inconclusive',
    value: null,
    samples,
    reason: `not enough evidence yet: needs ${missing.join(' and ')} (minimum ${minSamples}${paired ? '' : ' each'})`,
  };
}

function checkProportion(p: Proportion, side: string): void {
  const { events, total } = p;
  if (!Number.isFinite(events) || !Number.isFinite(total) || events < 0 || events > total) {
    throw new RangeError(`${side}: events must be within 0..total, got ${events} of ${total}`);
  }
}

const percent = (x: number): string => `${(x * 100).toFixed(2)}%`;
const signedPercent = (x: number): string => (x >= 0 ? '+' : '-') + percent(Math.abs(x));
const decimal = (x: number): string => (Number.isFinite(x) ? Number(x.toPrecision(4)).toString() : String(x));

// ---------------------------------------------------------------------------------------------
// Proportions

/**
 * Wilson score interval for one proportion (Wilson 1927): the set of p whose score test does not
 * reject at 5%. Unlike the Wald interval p ± z·√(p(1−p)/n) it does not collapse to a point at
 * 0 or n events and stays inside [0, 1], and its coverage is close to nominal for small n
 * (Brown, Cai & DasGupta 2001). Requires total > 0.
 */
function wilson({ events, total }: Proportion): [number, number] {
  const p = events / total;
  const z2 = Z_95 * Z_95;
  const denominator = 1 + z2 / total;
  const centre = (p + z2 / (2 * total)) / denominator;
  const half = (Z_95 / denominator) * Math.sqrt((p * (1 - p)) / total + z2 / (4 * total * total));
  // At 0 or n events one bound is exactly 0 or 1; set it rather than trust the rounding.
  const low = events === 0 ? 0 : Math.max(0, centre - half);
  const high = events === total ? 1 : Math.min(1, centre + half);
  return [low, high];
}

/**
 * Newcombe's hybrid score interval for a difference of two independent proportions (Newcombe
 * 1998, "method 10"): it combines each side's Wilson interval, so it inherits Wilson's behaviour
 * at zero counts (0 errors in either arm still gives a real, non-degenerate interval, where the
 * Wald difference interval has zero width), stays inside [−1, 1], always contains the observed
 * difference, and has coverage close to 95% even for small arms. Chosen over Agresti–Caffo's
 * adjusted Wald, which is also good, because it reuses the Wilson interval used for single
 * proportions and its centre is the observed difference rather than a shrunken one.
 */
function newcombe(
  candidate: Proportion,
  baseline: Proportion,
): { difference: number; interval: [number, number] } {
  const p1 = candidate.events / candidate.total;
  const p2 = baseline.events / baseline.total;
  const [l1, u1] = wilson(candidate);
  const [l2, u2] = wilson(baseline);
  const difference = p1 - p2;
  const low = difference - Math.hypot(p1 - l1, u2 - p2);
  const high = difference + Math.hypot(u1 - p1, p2 - l2);
  return { difference, interval: [low, high] };
}

function rateSamples(candidate: Proportion, baseline: Proportion, minSamples: number) {
  checkProportion(candidate, 'candidate');
  checkProportion(baseline, 'baseline');
  const samples = { candidate: candidate.total, baseline: baseline.total };
  // A rate of nothing cannot be estimated, whatever minSamples says.
  return { samples, short: tooFewSamples(samples, Math.max(1, minSamples)) };
}

/**
 * Candidate's rate minus baseline's must stay at most maxIncrease (error rate, fallback rate).
 * Interval: Newcombe's hybrid score interval for the difference (see newcombe()).
 */
export function rateIncreaseCheck(
  candidate: Proportion,
  baseline: Proportion,
  maxIncrease: number,
  minSamples: number,
): CheckResult {
  const { samples, short } = rateSamples(candidate, baseline, minSamples);
  if (short) return short;
  const { difference, interval } = newcombe(candidate, baseline);
  return judge({
    value: difference,
    interval,
    samples,
    good: (bound) => bound <= maxIncrease,
    bad: (bound) => bound > maxIncrease,
    describe: `rate difference ${signedPercent(difference)} (95% CI ${signedPercent(interval[0])} to ${signedPercent(interval[1])})`,
    limit: `at most ${signedPercent(maxIncrease)}`,
  });
}

/**
 * |candidate rate − baseline rate| must stay at most maxChange (a business decision's rate).
 * value and interval are the signed difference (candidate − baseline), so the history shows the
 * direction of the change; the interval is Newcombe's, as in rateIncreaseCheck.
 */
export function rateChangeCheck(
  candidate: Proportion,
  baseline: Proportion,
  maxChange: number,
  minSamples: number,
): CheckResult {
  const { samples, short } = rateSamples(candidate, baseline, minSamples);
  if (short) return short;
  const { difference, interval } = newcombe(candidate, baseline);
  return judge({
    value: difference,
    interval,
    samples,
    good: (bound) => Math.abs(bound) <= maxChange,
    // Bad only when the whole interval is past the same edge: one bound below −maxChange and the
    // other above +maxChange straddles the good band and is inconclusive.
    bad: (bound) =>
      (interval[0] > maxChange && bound > maxChange) || (interval[1] < -maxChange && bound < -maxChange),
    describe: `rate change ${signedPercent(difference)} (95% CI ${signedPercent(interval[0])} to ${signedPercent(interval[1])})`,
    limit: `within ±${percent(maxChange)}`,
  });
}

/**
 * A proportion (decision agreement between candidate and baseline on the same requests) must be
 * at least min. samples.baseline = samples.candidate = total. Interval: Wilson score (see wilson()).
 */
export function proportionAtLeastCheck(observed: Proportion, min: number, minSamples: number): CheckResult {
  checkProportion(observed, 'observed');
  const samples = { candidate: observed.total, baseline: observed.total };
  const short = tooFewSamples(samples, Math.max(1, minSamples), true);
  if (short) return short;
  const rate = observed.events / observed.total;
  const interval = wilson(observed);
  return judge({
    value: rate,
    interval,
    samples,
    good: (bound) => bound >= min,
    bad: (bound) => bound < min,
    describe: `proportion ${percent(rate)} (95% CI ${percent(interval[0])} to ${percent(interval[1])})`,
    limit: `at least ${percent(min)}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Latency: p99 ratio

/** The finite latencies, sorted; a non-finite one (NaN from a failed timer) carries no time. */
function sortedFinite(values: ArrayLike<number>): Float64Array {
  let finite = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) finite++;
  const sorted = new Float64Array(finite);
  let j = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (Number.isFinite(value)) sorted[j++] = value;
  }
  return sorted.sort();
}

/**
 * Distribution-free 95% interval for the 0.99 quantile from order statistics (e.g. Conover,
 * "Practical Nonparametric Statistics", ch. 3; Hahn & Meeker, "Statistical Intervals"). With n independent samples the
 * number M of samples above the true p99 is Binomial(n, 0.01), whatever the latency distribution.
 * The k-th smallest sample x(k) lies above the true p99 exactly when M > n − k, so
 *   lower = x(n − a), a the smallest m with P(M ≤ m) ≥ 0.975,
 *   upper = x(n − b), b the largest m with P(M ≤ m) ≤ 0.025,
 * each bound wrong with probability at most 2.5% (ranks are discrete, so the interval is
 * conservative). When even P(M = 0) = 0.99ⁿ exceeds 0.025, i.e. n < 368, there is no upper bound:
 * the largest sample is not reliably above the p99, and the interval's top is +Infinity.
 *
 * The point estimate is the nearest-rank p99, x(⌈0.99·n⌉).
 */
function p99Interval(sorted: Float64Array): { estimate: number; low: number; high: number } {
  const n = sorted.length;
  const logAbove = Math.log(0.01);
  const logBelow = Math.log(0.99);
  let logProbability = n * logBelow; // P(M = 0)
  let cumulative = 0;
  let a = n;
  let b = -1;
  for (let m = 0; m <= n; m++) {
    // Terms too small for a double underflow to 0 and are negligible against 0.025.
    cumulative += Math.exp(logProbability);
    if (cumulative <= 0.025) b = m;
    if (cumulative >= 0.975) {
      a = m;
      break;
    }
    logProbability += Math.log(n - m) - Math.log(m + 1) + logAbove - logBelow;
  }
  const at = (rank: number): number => sorted[rank - 1]!;
  return {
    estimate: at(Math.ceil((99 * n) / 100)),
    // a ≤ n − 1 for every n ≥ 1 (P(M ≤ n − 1) = 1 − 0.01ⁿ ≥ 0.99), so rank n − a ≥ 1.
    low: at(n - a),
    high: b < 0 ? Infinity : at(n - b),
  };
}

/** numerator / denominator, with x/0 = Infinity and 0/0 taken as given (it differs per bound). */
function ratio(numerator: number, denominator: number, zeroOverZero: number): number {
  if (denominator === 0) return numerator === 0 ? zeroOverZero : Infinity;
  return numerator / denominator;
}

/**
 * candidate p99 / baseline p99 must stay at most maxRatio; inputs are latency samples in ms
 * (unsorted). Each side's p99 gets its order-statistic interval (see p99Interval()), and the
 * ratio's interval is (candidate low / baseline high, candidate high / baseline low): if both
 * sides' intervals hold, so does the ratio's. That makes its coverage at least 90% (Bonferroni;
 * each side's own is at least 95%), more in practice since discrete ranks make each side's
 * interval conservative and the ratio's can hold when a side's does not. No distributional
 * assumption: latency tails are anything but normal.
 */
export function p99RatioCheck(
  candidate: ArrayLike<number>,
  baseline: ArrayLike<number>,
  maxRatio: number,
  minSamples: number,
): CheckResult {
  const candidateSorted = sortedFinite(candidate);
  const baselineSorted = sortedFinite(baseline);
  const samples = { candidate: candidateSorted.length, baseline: baselineSorted.length };
  const short = tooFewSamples(samples, Math.max(1, minSamples));
  if (short) return short;
  const c = p99Interval(candidateSorted);
  const b = p99Interval(baselineSorted);
  const value = b.estimate === 0 && c.estimate === 0 ? null : ratio(c.estimate, b.estimate, 1);
  // 0/0 bounds are resolved towards the wider, less committal interval.
  const interval: [number, number] = [ratio(c.low, b.high, 0), ratio(c.high, b.low, Infinity)];
  const unbounded = [c.high === Infinity ? 'candidate' : '', b.high === Infinity ? 'baseline' : ''].filter(
    (side) => side !== '',
  );
  const note =
    unbounded.length > 0
      ? `; the ${unbounded.join(' and ')} p99 has no 95% upper bound below 368 samples`
      : '';
  return judge({
    value,
    interval,
    samples,
    good: (bound) => bound <= maxRatio,
    bad: (bound) => bound > maxRatio,
    describe:
      `p99 ratio ${value === null ? 'n/a' : decimal(value)} (${decimal(c.estimate)} ms vs ${decimal(b.estimate)} ms, ` +
      `95% CI ${decimal(interval[0])} to ${decimal(interval[1])}${note})`,
    limit: `at most ${decimal(maxRatio)}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Mean of non-negative values

/** The mean of non-negative values (|score delta|) must be at most max. */
export interface Moments {
  n: number;
  sum: number;
  sumOfSquares: number;
}

/**
 * P(|T| ≤ t) for Student's t with a whole number ν of degrees of freedom, in closed form
 * (Abramowitz & Stegun 26.7.3 and 26.7.4), with θ = atan(t/√ν):
 *   ν odd:  (2/π)·(θ + sin θ·(cos θ + ⅔cos³θ + … + (2·4···(ν−3))/(1·3···(ν−2))·cos^(ν−2)θ))
 *   ν even: sin θ·(1 + ½cos²θ + … + (1·3···(ν−3))/(2·4···(ν−2))·cos^(ν−2)θ)
 */
function tCentralProbability(t: number, v: number): number {
  const theta = Math.atan(t / Math.sqrt(v));
  const cos = Math.cos(theta);
  const cos2 = cos * cos;
  if (v % 2 === 1) {
    let series = 0;
    let term = cos;
    for (let j = 1; 2 * j + 1 <= v; j++) {
      series += term;
      term *= ((2 * j) / (2 * j + 1)) * cos2;
    }
    return (2 / Math.PI) * (theta + Math.sin(theta) * series);
  }
  let series = 0;
  let term = 1;
  for (let j = 0; 2 * j + 2 <= v; j++) {
    series += term;
    term *= ((2 * j + 1) / (2 * j + 2)) * cos2;
  }
  return Math.sin(theta) * series;
}

/** Below this many degrees of freedom the t quantile is solved exactly; above, the expansion is within 1e-9. */
const T_EXACT_BELOW = 100;

/**
 * The 0.975 quantile of Student's t with v degrees of freedom: bisection on the closed-form
 * distribution for small v; for large v the Cornish–Fisher expansion in 1/v around the normal
 * quantile (Abramowitz & Stegun 26.7.5), whose next term is O(1/v⁵).
 */
function t975(v: number): number {
  if (v < T_EXACT_BELOW) {
    let low = Z_95;
    let high = 16; // t(0.975, 1) = tan(0.475π) ≈ 12.71 is the largest
    for (let i = 0; i < 60; i++) {
      const middle = (low + high) / 2;
      if (tCentralProbability(middle, v) < 0.95) low = middle;
      else high = middle;
    }
    return high;
  }
  const z = Z_95;
  const [z3, z5, z7, z9] = [z ** 3, z ** 5, z ** 7, z ** 9];
  const g1 = (z3 + z) / 4;
  const g2 = (5 * z5 + 16 * z3 + 3 * z) / 96;
  const g3 = (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / 384;
  const g4 = (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / 92160;
  return z + g1 / v + g2 / v ** 2 + g3 / v ** 3 + g4 / v ** 4;
}

/**
 * Student t interval from running moments: mean ± t(0.975, n−1) · s/√n with the sample variance
 * s² = (Σx² − (Σx)²/n)/(n − 1). |score delta| is skewed, so the t interval is approximate for small
 * n and relies on the central limit theorem as n grows; the lower bound is clamped at 0 since the
 * values are non-negative. The variance from raw sums loses precision when the mean is large
 * against the spread; it is clamped at 0 so rounding never makes it negative. samples.candidate =
 * samples.baseline = n (each value is one paired request).
 */
export function meanAtMostCheck(values: Moments, max: number, minSamples: number): CheckResult {
  const { n, sum, sumOfSquares } = values;
  if (!Number.isInteger(n) || n < 0 || !Number.isFinite(sum) || !Number.isFinite(sumOfSquares)) {
    throw new RangeError(`moments need a whole n ≥ 0 and finite sums, got n=${n}`);
  }
  const samples = { candidate: n, baseline: n };
  // A spread needs two values, whatever minSamples says.
  const short = tooFewSamples(samples, Math.max(2, minSamples), true);
  if (short) return short;
  const mean = sum / n;
  const variance = Math.max(0, (sumOfSquares - sum * mean) / (n - 1));
  const half = t975(n - 1) * Math.sqrt(variance / n);
  const interval: [number, number] = [Math.max(0, mean - half), mean + half];
  return judge({
    value: mean,
    interval,
    samples,
    good: (bound) => bound <= max,
    bad: (bound) => bound > max,
    describe: `mean ${decimal(mean)} (95% CI ${decimal(interval[0])} to ${decimal(interval[1])})`,
    limit: `at most ${decimal(max)}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Drift: population stability index

function histogramTotal(counts: ArrayLike<number>, side: string): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    if (!Number.isFinite(count) || count < 0) throw new RangeError(`${side}: bin ${i} has count ${count}`);
    total += count;
  }
  return total;
}

/** Added to every bin's count on both sides before taking proportions (see psi()). */
const PSI_SMOOTHING = 0.5;

/**
 * PSI = Σ (c_i − b_i) · ln(c_i / b_i) over bin proportions, with empty bins smoothed: 0.5 is added
 * to every bin's count on both sides (additive smoothing with the Jeffreys prior's ½), so
 * c_i = (C_i + ½) / (N_c + k/2). An empty bin would otherwise make ln(c_i / b_i) infinite; adding
 * to every bin, not only the empty ones, keeps PSI continuous as a bin goes from 1 to 0 counts, and
 * ½ rather than 1 disturbs small samples less. The effect fades as counts grow. Both histograms
 * must have the same bins.
 */
export function psi(candidate: ArrayLike<number>, baseline: ArrayLike<number>): number {
  if (candidate.length !== baseline.length) {
    throw new RangeError(
      `PSI needs the same bins: ${candidate.length} candidate vs ${baseline.length} baseline`,
    );
  }
  const k = candidate.length;
  const candidateTotal = histogramTotal(candidate, 'candidate') + PSI_SMOOTHING * k;
  const baselineTotal = histogramTotal(baseline, 'baseline') + PSI_SMOOTHING * k;
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const c = (candidate[i]! + PSI_SMOOTHING) / candidateTotal;
    const b = (baseline[i]! + PSI_SMOOTHING) / baselineTotal;
    sum += (c - b) * Math.log(c / b);
  }
  return sum;
}

/**
 * Population stability index of candidate vs baseline histograms (same bins) must be at most max.
 *
 * PSI is biased upwards in small samples: with no drift at all, sampling noise alone gives
 * (c_i − b_i)·ln(c_i/b_i) ≈ (c_i − b_i)²/p_i with E[(c_i − b_i)²] = p_i(1 − p_i)(1/n_c + 1/n_b), so
 *   E[PSI | no drift] ≈ (k − 1)(1/n_c + 1/n_b),
 * where k is the number of bins (PSI is the symmetric KL divergence, and n_c·n_b/(n_c+n_b)·PSI is
 * asymptotically χ² with k − 1 degrees of freedom). A PSI of 0.1 from 10 bins and 100 requests per
 * side is mostly noise. That bias is the width of the inconclusive band: pass when
 * PSI + bias ≤ max, fail when PSI − bias > max, inconclusive in between. It is a band, not a 95%
 * confidence interval (the χ² noise's standard deviation is √(2(k−1)) times the same scale, so a
 * single look can still fail by luck; failure_limit covers that). k counts only the bins occupied
 * on at least one side: a bin empty on both adds next to nothing, noise included.
 */
export function psiAtMostCheck(
  candidate: ArrayLike<number>,
  baseline: ArrayLike<number>,
  max: number,
  minSamples: number,
): CheckResult {
  const value = psi(candidate, baseline);
  const samples = {
    candidate: histogramTotal(candidate, 'candidate'),
    baseline: histogramTotal(baseline, 'baseline'),
  };
  const short = tooFewSamples(samples, Math.max(1, minSamples));
  if (short) return short;
  let occupied = 0;
  for (let i = 0; i < candidate.length; i++) if (candidate[i]! > 0 || baseline[i]! > 0) occupied++;
  const bias = Math.max(0, occupied - 1) * (1 / samples.candidate + 1 / samples.baseline);
  const interval: [number, number] = [Math.max(0, value - bias), value + bias];
  return judge({
    value,
    interval,
    samples,
    good: (bound) => bound <= max,
    bad: (bound) => bound > max,
    describe: `PSI ${decimal(value)} (± ${decimal(bias)} expected from sampling noise alone over ${occupied} bins)`,
    limit: `at most ${decimal(max)}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Immediate abort

const OUTRIGHT_MIN_REQUESTS = 20;
const OUTRIGHT_ERROR_RATE = 0.5;

/**
 * An immediate abort needs no min_samples: the candidate failing outright (e.g. ≥ 50% errors over
 * ≥ 20 requests). Return true when it is that bad. Over 20 requests, a variant whose true error
 * rate were even 10% would reach 10 errors with probability below 1e-5 (binomial tail), so this is
 * not noise; the floor of 20 keeps one or two early errors from aborting a rollout.
 */
export function failingOutright(candidate: Proportion): boolean {
  checkProportion(candidate, 'candidate');
  return (
    candidate.total >= OUTRIGHT_MIN_REQUESTS && candidate.events >= OUTRIGHT_ERROR_RATE * candidate.total
  );
}
