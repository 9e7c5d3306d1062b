/**
 * Trains the three demo fraud models and writes them as a runtime model repository entry:
 *
 *   tsx scripts/train-fraud-models.ts [--out DIR]        (default config/models/fraud)
 *
 * DIR/<v>/model.onnx, DIR/config.yaml (with each file's sha256), DIR/training-report.json and
 * DIR/drift-reference.json (the gateway's drift reference: the features' and each version's
 * scores' histograms over the evaluation set, see README "Drift"). Everything is seeded and free
 * of timestamps, so a rerun reproduces the files byte for byte; the test beside this file holds the
 * committed files to that.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { parse as parseYaml } from 'yaml';

import { quantileHistogram } from '../src/drift/build-reference.js';
import type { DriftReference } from '../src/drift/reference.js';

import {
  encodeMlpAsOnnx,
  foldStandardization,
  type FeatureScaler,
  type StandardizedMlpWeights,
} from './fraud/onnx-writer.js';
import {
  BASE_LABEL_RULE,
  DRIFTED_LABEL_RULE,
  FRAUD_DECISION_THRESHOLDS,
  FRAUD_EVALUATION_COUNT,
  FRAUD_EVALUATION_SEED,
  FRAUD_FEATURE_COUNT,
  FRAUD_FEATURES,
  forwardPass,
  fraudDecision,
  generateTransactions,
  mulberry32,
  normal,
  sigmoid,
  type FraudLabelRule,
  type MlpWeights,
  type Transactions,
} from './fraud/synthetic.js';

export const DEFAULT_OUT_DIR = 'config/models/fraud';
const HIDDEN_UNITS = 12;
const BATCH_SIZE = 128;
const LEARNING_RATE = 0.01;

/** How one version is made; v2 resamples the same world, v3 learns a drifted one. */
export interface VersionRecipe {
  readonly version: '1' | '2' | '3';
  readonly rule: FraudLabelRule;
  readonly dataSeed: number;
  readonly initSeed: number;
  readonly trainingCount: number;
  readonly epochs: number;
}

export const FRAUD_VERSION_RECIPES: readonly VersionRecipe[] = [
  { version: '1', rule: BASE_LABEL_RULE, dataSeed: 101, initSeed: 1, trainingCount: 40000, epochs: 20 },
  { version: '2', rule: BASE_LABEL_RULE, dataSeed: 202, initSeed: 2, trainingCount: 40000, epochs: 30 },
  { version: '3', rule: DRIFTED_LABEL_RULE, dataSeed: 303, initSeed: 3, trainingCount: 40000, epochs: 20 },
];

function featureScaler({ features }: Transactions, count: number): FeatureScaler {
  const mean: number[] = [];
  const std: number[] = [];
  for (let input = 0; input < FRAUD_FEATURE_COUNT; input++) {
    let sum = 0;
    let sumOfSquares = 0;
    for (let row = 0; row < count; row++) {
      const value = features[row * FRAUD_FEATURE_COUNT + input] ?? 0;
      sum += value;
      sumOfSquares += value * value;
    }
    const average = sum / count;
    mean.push(average);
    // A constant feature would divide by zero; 1 leaves it centred and harmless.
    std.push(Math.sqrt(Math.max(sumOfSquares / count - average * average, 0)) || 1);
  }
  return { mean, std };
}

/** One flat parameter vector so a single Adam loop updates every weight. */
function parameterLayout(hidden: number) {
  const w1 = 0;
  const b1 = w1 + FRAUD_FEATURE_COUNT * hidden;
  const w2 = b1 + hidden;
  const b2 = w2 + hidden;
  return { w1, b1, w2, b2, size: b2 + 1 };
}

/**
 * Mini-batch gradient descent on binary cross-entropy with Adam step sizes (plain SGD needs many
 * more epochs on the skewed inputs) and a linearly decaying learning rate, so seeds matter little
 * and v1/v2 mostly agree.
 */
export function trainMlp(recipe: VersionRecipe): { weights: StandardizedMlpWeights; scaler: FeatureScaler } {
  const data = generateTransactions(recipe.trainingCount, recipe.dataSeed, recipe.rule);
  const count = recipe.trainingCount;
  const scaler = featureScaler(data, count);
  const inputs = new Float64Array(count * FRAUD_FEATURE_COUNT);
  data.features.forEach((value, index) => {
    const input = index % FRAUD_FEATURE_COUNT;
    inputs[index] = (value - (scaler.mean[input] ?? 0)) / (scaler.std[input] ?? 1);
  });

  const hidden = HIDDEN_UNITS;
  const layout = parameterLayout(hidden);
  const params = new Float64Array(layout.size);
  const random = mulberry32(recipe.initSeed);
  // He initialisation for the ReLU layer; the output bias starts at the base fraud rate.
  for (let i = layout.w1; i < layout.b1; i++) params[i] = normal(random) * Math.sqrt(2 / FRAUD_FEATURE_COUNT);
  for (let i = layout.w2; i < layout.b2; i++) params[i] = normal(random) * Math.sqrt(1 / hidden);
  const fraudRate = data.labels.reduce((sum, label) => sum + label, 0) / count;
  params[layout.b2] = Math.log(fraudRate / (1 - fraudRate));

  const gradient = new Float64Array(layout.size);
  const firstMoment = new Float64Array(layout.size);
  const secondMoment = new Float64Array(layout.size);
  const preActivation = new Float64Array(hidden);
  const order = Uint32Array.from({ length: count }, (_, index) => index);
  let step = 0;

  for (let epoch = 0; epoch < recipe.epochs; epoch++) {
    shuffle(order, random);
    const learningRate = LEARNING_RATE * (1 - epoch / recipe.epochs);
    for (let start = 0; start < count; start += BATCH_SIZE) {
      const end = Math.min(start + BATCH_SIZE, count);
      gradient.fill(0);
      for (let position = start; position < end; position++) {
        const row = order[position] ?? 0;
        const x = row * FRAUD_FEATURE_COUNT;
        let logit = params[layout.b2] ?? 0;
        for (let unit = 0; unit < hidden; unit++) {
          let activation = params[layout.b1 + unit] ?? 0;
          for (let input = 0; input < FRAUD_FEATURE_COUNT; input++) {
            activation += (inputs[x + input] ?? 0) * (params[layout.w1 + input * hidden + unit] ?? 0);
          }
          preActivation[unit] = activation;
          if (activation > 0) logit += activation * (params[layout.w2 + unit] ?? 0);
        }
        // d(cross-entropy)/d(logit) of a sigmoid output is simply (p - y).
        const outputError = sigmoid(logit) - (data.labels[row] ?? 0);
        gradient[layout.b2] = (gradient[layout.b2] ?? 0) + outputError;
        for (let unit = 0; unit < hidden; unit++) {
          const activation = preActivation[unit] ?? 0;
          if (activation <= 0) continue;
          gradient[layout.w2 + unit] = (gradient[layout.w2 + unit] ?? 0) + outputError * activation;
          const hiddenError = outputError * (params[layout.w2 + unit] ?? 0);
          gradient[layout.b1 + unit] = (gradient[layout.b1 + unit] ?? 0) + hiddenError;
          for (let input = 0; input < FRAUD_FEATURE_COUNT; input++) {
            const index = layout.w1 + input * hidden + unit;
            gradient[index] = (gradient[index] ?? 0) + hiddenError * (inputs[x + input] ?? 0);
          }
        }
      }
      step += 1;
      adamStep(params, gradient, firstMoment, secondMoment, step, learningRate, end - start);
    }
  }

  const weights: StandardizedMlpWeights = {
    inputSize: FRAUD_FEATURE_COUNT,
    hiddenSize: hidden,
    w1: params.slice(layout.w1, layout.b1),
    b1: params.slice(layout.b1, layout.w2),
    w2: params.slice(layout.w2, layout.b2),
    b2: params[layout.b2] ?? 0,
  };
  return { weights, scaler };
}

function shuffle(order: Uint32Array, random: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = order[i] ?? 0;
    order[i] = order[j] ?? 0;
    order[j] = swap;
  }
}

function adamStep(
  params: Float64Array,
  gradient: Float64Array,
  firstMoment: Float64Array,
  secondMoment: Float64Array,
  step: number,
  learningRate: number,
  batchSize: number,
): void {
  const beta1 = 0.9;
  const beta2 = 0.999;
  const correction1 = 1 - beta1 ** step;
  const correction2 = 1 - beta2 ** step;
  for (let i = 0; i < params.length; i++) {
    const g = (gradient[i] ?? 0) / batchSize;
    const m = beta1 * (firstMoment[i] ?? 0) + (1 - beta1) * g;
    const v = beta2 * (secondMoment[i] ?? 0) + (1 - beta2) * g * g;
    firstMoment[i] = m;
    secondMoment[i] = v;
    params[i] = (params[i] ?? 0) - (learningRate * (m / correction1)) / (Math.sqrt(v / correction2) + 1e-8);
  }
}

/** Area under the ROC curve by the rank-sum (Mann–Whitney) formula; tied scores share their rank. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, index) => index).sort(
    (a, b) => (scores[a] ?? 0) - (scores[b] ?? 0) || a - b,
  );
  let positives = 0;
  let positiveRankSum = 0;
  for (let start = 0; start < order.length;) {
    let end = start;
    const score = scores[order[start] ?? 0];
    while (end < order.length && scores[order[end] ?? 0] === score) end++;
    const averageRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) {
      if (labels[order[k] ?? 0] === 1) {
        positives += 1;
        positiveRankSum += averageRank;
      }
    }
    start = end;
  }
  const negatives = order.length - positives;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function scoreAll(weights: MlpWeights, { features }: Transactions): Float64Array {
  const count = features.length / FRAUD_FEATURE_COUNT;
  return Float64Array.from({ length: count }, (_, row) =>
    forwardPass(weights, features.subarray(row * FRAUD_FEATURE_COUNT, (row + 1) * FRAUD_FEATURE_COUNT)),
  );
}

export interface TrainedVersion {
  readonly recipe: VersionRecipe;
  /** Folded into raw units and rounded to float32: exactly what model.onnx stores. */
  readonly weights: MlpWeights;
  readonly onnx: Uint8Array;
  readonly sha256: string;
}

export function trainFraudModels(): TrainedVersion[] {
  return FRAUD_VERSION_RECIPES.map((recipe) => {
    const { weights: standardized, scaler } = trainMlp(recipe);
    const weights = foldStandardization(standardized, scaler);
    const onnx = encodeMlpAsOnnx(weights, {
      graphName: 'fraud_mlp',
      docString: `Demo fraud score, version ${recipe.version}, trained on synthetic transactions (label rule "${recipe.rule.name}"). Input features in raw units: ${FRAUD_FEATURES.map((f) => f.name).join(', ')}.`,
      modelVersion: Number(recipe.version),
      metadata: [['feature_names', FRAUD_FEATURES.map((f) => f.name).join(',')]],
    });
    return { recipe, weights, onnx, sha256: createHash('sha256').update(onnx).digest('hex') };
  });
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

function fraction(count: number, total: number): { count: number; fraction: number } {
  return { count, fraction: round6(count / total) };
}

/** The report: key order is fixed by construction, numbers rounded to 6 places. */
export function buildTrainingReport(trained: readonly TrainedVersion[]) {
  const evaluation = generateTransactions(FRAUD_EVALUATION_COUNT, FRAUD_EVALUATION_SEED, BASE_LABEL_RULE);
  const driftedLabels = generateTransactions(
    FRAUD_EVALUATION_COUNT,
    FRAUD_EVALUATION_SEED,
    DRIFTED_LABEL_RULE,
  );
  const total = FRAUD_EVALUATION_COUNT;
  const scores = new Map(trained.map((t) => [t.recipe.version, scoreAll(t.weights, evaluation)]));
  const accuracy = (s: Float64Array, labels: Uint8Array) =>
    round6(s.reduce((hits, score, row) => hits + (Number(score >= 0.5) === labels[row] ? 1 : 0), 0) / total);

  const versions = Object.fromEntries(
    trained.map(({ recipe, sha256 }) => {
      const s = scores.get(recipe.version) ?? new Float64Array(total);
      const decisions = { approve: 0, review: 0, decline: 0 };
      s.forEach((score) => (decisions[fraudDecision(score)] += 1));
      return [
        recipe.version,
        {
          sha256,
          label_rule: recipe.rule.name,
          training: {
            data_seed: recipe.dataSeed,
            init_seed: recipe.initSeed,
            count: recipe.trainingCount,
            epochs: recipe.epochs,
            hidden_units: HIDDEN_UNITS,
          },
          accuracy: accuracy(s, evaluation.labels),
          auc: round6(rocAuc(s, evaluation.labels)),
          accuracy_on_drifted_labels: accuracy(s, driftedLabels.labels),
          auc_on_drifted_labels: round6(rocAuc(s, driftedLabels.labels)),
          decisions,
        },
      ];
    }),
  );

  const pairs: (readonly ['1' | '2' | '3', '1' | '2' | '3'])[] = [
    ['1', '2'],
    ['1', '3'],
    ['2', '3'],
  ];
  const disagreement = Object.fromEntries(
    pairs.map(([a, b]) => {
      const left = scores.get(a) ?? new Float64Array(total);
      const right = scores.get(b) ?? new Float64Array(total);
      let decisionDiffers = 0;
      let flagDiffers = 0;
      left.forEach((score, row) => {
        const other = right[row] ?? 0;
        if (fraudDecision(score) !== fraudDecision(other)) decisionDiffers += 1;
        if (score >= FRAUD_DECISION_THRESHOLDS.review !== other >= FRAUD_DECISION_THRESHOLDS.review)
          flagDiffers += 1;
      });
      return [
        `${a}-${b}`,
        { decision: fraction(decisionDiffers, total), score_at_least_0_5: fraction(flagDiffers, total) },
      ];
    }),
  );

  return {
    generated_by: 'scripts/train-fraud-models.ts',
    evaluation: {
      seed: FRAUD_EVALUATION_SEED,
      count: total,
      label_rule: BASE_LABEL_RULE.name,
      fraud_rate: round6(evaluation.labels.reduce((sum, label) => sum + label, 0) / total),
      drifted_fraud_rate: round6(driftedLabels.labels.reduce((sum, label) => sum + label, 0) / total),
    },
    decision_thresholds: { ...FRAUD_DECISION_THRESHOLDS },
    versions,
    disagreement,
  };
}

export type TrainingReport = ReturnType<typeof buildTrainingReport>;

/**
 * The gateway's drift reference for the fraud model (`drift.reference` in config/gateway.yaml):
 * each feature's histogram over the held-out evaluation set — drawn from the same world as the
 * training data — and each version's scores on it, over decile bins (src/drift/build-reference.ts).
 * Live traffic like the training data then shows a PSI near 0; a shifted feature, a high one.
 */
export function buildDriftReference(trained: readonly TrainedVersion[]): DriftReference {
  const evaluation = generateTransactions(FRAUD_EVALUATION_COUNT, FRAUD_EVALUATION_SEED, BASE_LABEL_RULE);
  const column = (input: number) =>
    Float64Array.from(
      { length: FRAUD_EVALUATION_COUNT },
      (_, row) => evaluation.features[row * FRAUD_FEATURE_COUNT + input] ?? 0,
    );
  return {
    source: `${FRAUD_EVALUATION_COUNT} held-out synthetic transactions (seed ${FRAUD_EVALUATION_SEED}) and each version's scores on them, written by scripts/train-fraud-models.ts`,
    model: 'fraud',
    features: Object.fromEntries(
      FRAUD_FEATURES.map((feature, input) => [feature.name, quantileHistogram(column(input), feature)]),
    ),
    scores: Object.fromEntries(
      trained.map(({ recipe, weights }) => [
        recipe.version,
        quantileHistogram(scoreAll(weights, evaluation), { min: 0, max: 1 }),
      ]),
    ),
  };
}

/** JSON with two-space indents and each list of numbers on one line, so a histogram reads at a glance. */
export function renderDriftReference(reference: DriftReference): string {
  const text = JSON.stringify(reference, null, 2).replace(
    /\[[-\d.e+,\s]*\]/g,
    (list) =>
      `[${list
        .slice(1, -1)
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
        .join(', ')}]`,
  );
  return `${text}\n`;
}

/** A hex digest like "123e4567…" (digits only, or digits-e-digits) would read back as a number. */
function yamlPlain(hex: string): string {
  return typeof parseYaml(hex) === 'string' ? hex : `'${hex}'`;
}

export function renderConfigYaml(trained: readonly TrainedVersion[]): string {
  const featureLines = FRAUD_FEATURES.map(
    (feature, index) => `#   ${index} ${feature.name.padEnd(24)} ${feature.min}..${feature.max}`,
  );
  // Single quotes because Prettier formats YAML with this repo's singleQuote setting.
  const versionLines = trained.map(
    ({ recipe, sha256 }) => `  '${recipe.version}': { sha256: ${yamlPlain(sha256)} }`,
  );
  return [
    '# Written by scripts/train-fraud-models.ts — rerun it instead of editing the sha256 values by hand.',
    '# `features` holds these raw values in this order (the gateway contract owns the ranges):',
    ...featureLines,
    'name: fraud',
    'platform: onnxruntime',
    'max_batch_size: 64',
    'inputs:',
    '  - { name: features, datatype: FP32, dims: [8] }',
    'outputs:',
    '  - { name: score, datatype: FP32, dims: [1] }',
    'dynamic_batching:',
    '  max_queue_delay_us: 500',
    '  max_queue_size: 4096',
    'execution_providers: [cuda, cpu]',
    '# One thread per run: a batch of this MLP is microseconds of work, and the threads of a larger',
    "# pool spin between runs, taking CPU from the server's event loop (measured: 36 -> 31 us a request).",
    'intra_op_threads: 1',
    'versions:',
    ...versionLines,
    '',
  ].join('\n');
}

/** Trains, evaluates and writes everything under `outDir`; returns the report it wrote. */
export async function writeFraudModels(outDir: string): Promise<TrainingReport> {
  const trained = trainFraudModels();
  for (const { recipe, onnx } of trained) {
    await mkdir(join(outDir, recipe.version), { recursive: true });
    await writeFile(join(outDir, recipe.version, 'model.onnx'), onnx);
  }
  const report = buildTrainingReport(trained);
  await writeFile(join(outDir, 'config.yaml'), renderConfigYaml(trained));
  await writeFile(join(outDir, 'training-report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(outDir, 'drift-reference.json'), renderDriftReference(buildDriftReference(trained)));
  return report;
}

function printSummary(outDir: string, report: TrainingReport, elapsedMs: number): void {
  const { evaluation } = report;
  console.log(
    `wrote ${outDir}/{1,2,3}/model.onnx, config.yaml, training-report.json, drift-reference.json in ${elapsedMs} ms`,
  );
  console.log(
    `evaluation: ${evaluation.count} transactions, seed ${evaluation.seed}, fraud rate ${evaluation.fraud_rate}`,
  );
  for (const [version, result] of Object.entries(report.versions)) {
    const { approve, review, decline } = result.decisions;
    console.log(
      `  v${version} (${result.label_rule}): accuracy ${result.accuracy}  AUC ${result.auc}  ` +
        `approve/review/decline ${approve}/${review}/${decline}`,
    );
  }
  for (const [pair, result] of Object.entries(report.disagreement)) {
    console.log(
      `  ${pair}: decision differs on ${(result.decision.fraction * 100).toFixed(2)}%, ` +
        `score >= 0.5 differs on ${(result.score_at_least_0_5.fraction * 100).toFixed(2)}%`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: DEFAULT_OUT_DIR } } });
  const outDir = values.out ?? DEFAULT_OUT_DIR;
  const started = performance.now();
  const report = await writeFraudModels(outDir);
  printSummary(outDir, report, Math.round(performance.now() - started));
}

const invokedDirectly =
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
