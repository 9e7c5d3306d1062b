/**
 * Synthetic card transactions for the demo fraud models, and the plain-JS forward pass of the model.
 *
 * Everything here is seeded: the same (count, seed, rule) always yields the same Float32Array and
 * labels, so the training script can reproduce its ONNX files byte for byte and tests can rebuild
 * the evaluation set without reading it from disk.
 */

export interface FraudFeature {
  readonly name: string;
  readonly min: number;
  readonly max: number;
}

/** Input order of the model's `features` tensor; callers send raw units within these ranges. */
export const FRAUD_FEATURES: readonly FraudFeature[] = [
  { name: 'transaction_amount', min: 0, max: 20000 },
  { name: 'account_age_days', min: 0, max: 3650 },
  { name: 'device_risk_score', min: 0, max: 1 },
  { name: 'country_risk', min: 0, max: 1 },
  { name: 'hour_of_day', min: 0, max: 23 },
  { name: 'transactions_last_24h', min: 0, max: 100 },
  { name: 'is_new_device', min: 0, max: 1 },
  { name: 'distance_from_home_km', min: 0, max: 5000 },
];

export const FRAUD_FEATURE_COUNT = FRAUD_FEATURES.length;

/** The held-out set every report and test scores: regenerate it with these two constants. */
export const FRAUD_EVALUATION_SEED = 20261101;
export const FRAUD_EVALUATION_COUNT = 20000;

/** score < review → approve; review <= score < decline → review; score >= decline → decline. */
export const FRAUD_DECISION_THRESHOLDS = { review: 0.5, decline: 0.85 } as const;

export type FraudDecision = 'approve' | 'review' | 'decline';

export function fraudDecision(score: number): FraudDecision {
  if (score >= FRAUD_DECISION_THRESHOLDS.decline) return 'decline';
  if (score >= FRAUD_DECISION_THRESHOLDS.review) return 'review';
  return 'approve';
}

/** mulberry32: a tiny, well-mixed 32-bit PRNG; returns uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal by Box–Muller; `1 - u` keeps the logarithm away from zero. */
export function normal(random: () => number): number {
  const u1 = 1 - random();
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * The ground truth: P(fraud) = sigmoid(bias + Σ weight × signal), with signals scaled to about
 * [0, 1] so the weights read as "how much this risk factor matters":
 *   amount       log1p(transaction_amount) / log1p(20000)   large amounts
 *   youngAccount exp(-account_age_days / 90)                accounts younger than a few months
 *   deviceRisk   device_risk_score
 *   countryRisk  country_risk
 *   nightHours   1 when hour_of_day is 23 or 0–5
 *   velocity     log1p(transactions_last_24h) / log1p(100)  bursts of card testing
 *   newDevice    is_new_device
 *   distance     log1p(distance_from_home_km) / log1p(5000) far from home
 * A label is drawn from that probability, then flipped with probability `labelFlip`
 * (mislabelled chargebacks), so no model can be perfect. The stream stands for transactions that
 * already passed cheap rules and reached the model, so about a fifth are fraud and all three
 * decisions occur often enough for the demo's A/B and shadow comparisons to mean something.
 */
export interface FraudLabelRule {
  readonly name: string;
  readonly bias: number;
  readonly amount: number;
  readonly youngAccount: number;
  readonly deviceRisk: number;
  readonly countryRisk: number;
  readonly nightHours: number;
  readonly velocity: number;
  readonly newDevice: number;
  readonly distance: number;
  readonly labelFlip: number;
}

export const BASE_LABEL_RULE: FraudLabelRule = {
  name: 'base',
  bias: -10,
  amount: 8,
  youngAccount: 3,
  deviceRisk: 5,
  countryRisk: 4,
  nightHours: 1.5,
  velocity: 4,
  newDevice: 1.5,
  distance: 4,
  labelFlip: 0.01,
};

/**
 * The drifted world v3 learns from: fraud moved to night-time and away from the usual high-risk
 * countries, so v3 disagrees with v1 on a predictable slice of traffic (night, risky country).
 */
export const DRIFTED_LABEL_RULE: FraudLabelRule = {
  ...BASE_LABEL_RULE,
  name: 'drifted',
  bias: -10.3,
  nightHours: 4,
  countryRisk: 1,
};

export function fraudLogit(rule: FraudLabelRule, row: ArrayLike<number>): number {
  const at = (index: number): number => row[index] ?? 0;
  const hour = at(4);
  const night = hour >= 23 || hour < 6 ? 1 : 0;
  return (
    rule.bias +
    rule.amount * (Math.log1p(at(0)) / Math.log1p(20000)) +
    rule.youngAccount * Math.exp(-at(1) / 90) +
    rule.deviceRisk * at(2) +
    rule.countryRisk * at(3) +
    rule.nightHours * night +
    rule.velocity * (Math.log1p(at(5)) / Math.log1p(100)) +
    rule.newDevice * at(6) +
    rule.distance * (Math.log1p(at(7)) / Math.log1p(5000))
  );
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

// Relative shopping activity per hour: busy afternoons, quiet nights.
const HOUR_WEIGHTS = [
  0.6, 0.4, 0.3, 0.25, 0.25, 0.35, 0.7, 1.2, 1.8, 2.2, 2.5, 2.7, 3, 2.8, 2.6, 2.6, 2.7, 2.9, 3, 2.9, 2.6, 2.1,
  1.5, 1,
];
const HOUR_TOTAL = HOUR_WEIGHTS.reduce((sum, weight) => sum + weight, 0);

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function sampleHour(random: () => number): number {
  let remaining = random() * HOUR_TOTAL;
  for (let hour = 0; hour < HOUR_WEIGHTS.length; hour++) {
    remaining -= HOUR_WEIGHTS[hour] ?? 0;
    if (remaining < 0) return hour;
  }
  return 23;
}

/** Country risk clusters: most traffic is domestic and low risk, a tail comes from risky regions. */
function sampleCountryRisk(random: () => number): number {
  const tier = random();
  if (tier < 0.7) return 0.02 + 0.13 * random();
  if (tier < 0.9) return 0.25 + 0.3 * random();
  return 0.6 + 0.4 * random();
}

/** Writes one transaction's 8 raw features; the draw order is fixed, so rows never shift. */
function sampleFeatures(random: () => number, out: Float32Array, offset: number): void {
  // Amounts are log-normal around a 45 (currency units) median, cents kept.
  out[offset] = clamp(Math.round(Math.exp(Math.log(45) + 1.25 * normal(random)) * 100) / 100, 0, 20000);
  // A fifth of accounts are new (first month); the rest age roughly exponentially over years.
  const isFreshAccount = random() < 0.2;
  const ageDays = isFreshAccount ? 30 * random() : -800 * Math.log(1 - random());
  out[offset + 1] = clamp(Math.floor(ageDays), 0, 3650);
  // Device risk is Beta(1, 6)-shaped: mostly near zero with a long tail.
  out[offset + 2] = 1 - Math.pow(1 - random(), 1 / 6);
  out[offset + 3] = sampleCountryRisk(random);
  out[offset + 4] = sampleHour(random);
  // Transactions per day: geometric around 3, with rare card-testing bursts.
  const isBurst = random() < 0.03;
  const dailyCount = isBurst ? 10 + 60 * random() : -3 * Math.log(1 - random());
  out[offset + 5] = clamp(Math.floor(dailyCount), 0, 100);
  out[offset + 6] = random() < 0.12 ? 1 : 0;
  // Distance from home is log-normal around 8 km; travel makes the tail long.
  out[offset + 7] = clamp(Math.round(Math.exp(Math.log(8) + 1.6 * normal(random)) * 10) / 10, 0, 5000);
}

export interface Transactions {
  /** count × FRAUD_FEATURE_COUNT, row-major, raw units. */
  readonly features: Float32Array;
  /** 1 = fraud. */
  readonly labels: Uint8Array;
}

/**
 * Features and labels come from two independent streams of the same seed, so one seed gives the
 * same transactions under any labelling rule; only the labels change with `rule`.
 */
export function generateTransactions(
  count: number,
  seed: number,
  rule: FraudLabelRule = BASE_LABEL_RULE,
): Transactions {
  const featureRandom = mulberry32(seed);
  const labelRandom = mulberry32((seed ^ 0x9e3779b9) >>> 0);
  const features = new Float32Array(count * FRAUD_FEATURE_COUNT);
  const labels = new Uint8Array(count);
  for (let row = 0; row < count; row++) {
    const offset = row * FRAUD_FEATURE_COUNT;
    sampleFeatures(featureRandom, features, offset);
    const isFraud =
      labelRandom() < sigmoid(fraudLogit(rule, features.subarray(offset, offset + FRAUD_FEATURE_COUNT)));
    const isFlipped = labelRandom() < rule.labelFlip;
    labels[row] = isFraud !== isFlipped ? 1 : 0;
  }
  return { features, labels };
}

/**
 * A two-layer perceptron in raw feature units, exactly as the ONNX graph computes it:
 * score = sigmoid(relu(x · w1 + b1) · w2 + b2). Float32Arrays so the values are the ones stored.
 */
export interface MlpWeights {
  readonly inputSize: number;
  readonly hiddenSize: number;
  /** inputSize × hiddenSize, row-major (the ONNX MatMul layout). */
  readonly w1: Float32Array;
  readonly b1: Float32Array;
  /** hiddenSize × 1. */
  readonly w2: Float32Array;
  /** length 1. */
  readonly b2: Float32Array;
}

export function forwardPass(weights: MlpWeights, row: ArrayLike<number>): number {
  const { inputSize, hiddenSize, w1, b1, w2, b2 } = weights;
  let logit = b2[0] ?? 0;
  for (let unit = 0; unit < hiddenSize; unit++) {
    let activation = b1[unit] ?? 0;
    for (let input = 0; input < inputSize; input++) {
      activation += (row[input] ?? 0) * (w1[input * hiddenSize + unit] ?? 0);
    }
    if (activation > 0) logit += activation * (w2[unit] ?? 0);
  }
  return sigmoid(logit);
}
