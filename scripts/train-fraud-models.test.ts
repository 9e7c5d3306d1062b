import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import * as ort from 'onnxruntime-node';

import { MLP_INITIALIZERS } from './fraud/onnx-writer.js';
import {
  FRAUD_EVALUATION_COUNT,
  FRAUD_EVALUATION_SEED,
  FRAUD_FEATURE_COUNT,
  forwardPass,
  fraudDecision,
  generateTransactions,
  type MlpWeights,
} from './fraud/synthetic.js';
import { rocAuc, writeFraudModels, type TrainingReport } from './train-fraud-models.js';

const { onnx } = onnxProto;
const COMMITTED_DIR = fileURLToPath(new URL('../config/models/fraud/', import.meta.url));
const GENERATED_FILES = [
  '1/model.onnx',
  '2/model.onnx',
  '3/model.onnx',
  'config.yaml',
  'training-report.json',
  'drift-reference.json',
];
const evaluation = generateTransactions(FRAUD_EVALUATION_COUNT, FRAUD_EVALUATION_SEED);

async function readReport(): Promise<TrainingReport> {
  return JSON.parse(await readFile(join(COMMITTED_DIR, 'training-report.json'), 'utf8')) as TrainingReport;
}

/** Recovers the weights from the file itself, so the check covers what the writer stored. */
function readMlpWeights(bytes: Uint8Array): MlpWeights {
  const graph = onnx.ModelProto.decode(bytes).graph;
  assert.ok(graph, 'model has a graph');
  const tensor = (name: string) => {
    const found = graph.initializer?.find((initializer) => initializer.name === name);
    const rawData = found?.rawData;
    assert.ok(found && rawData, `initializer ${name} with raw_data`);
    const view = new DataView(rawData.buffer, rawData.byteOffset, rawData.byteLength);
    const values = Float32Array.from({ length: rawData.byteLength / 4 }, (_, i) =>
      view.getFloat32(i * 4, true),
    );
    return { dims: (found.dims ?? []).map(Number), values };
  };
  const w1 = tensor(MLP_INITIALIZERS.hiddenWeight);
  const [inputSize = 0, hiddenSize = 0] = w1.dims;
  return {
    inputSize,
    hiddenSize,
    w1: w1.values,
    b1: tensor(MLP_INITIALIZERS.hiddenBias).values,
    w2: tensor(MLP_INITIALIZERS.outputWeight).values,
    b2: tensor(MLP_INITIALIZERS.outputBias).values,
  };
}

async function scoreWithOnnxRuntime(version: string, rows: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(COMMITTED_DIR, version, 'model.onnx'));
  try {
    const features = evaluation.features.slice(0, rows * FRAUD_FEATURE_COUNT);
    const { score } = await session.run({
      features: new ort.Tensor('float32', features, [rows, FRAUD_FEATURE_COUNT]),
    });
    assert.ok(score, 'session returns `score`');
    assert.deepEqual(score.dims, [rows, 1]);
    return score.data as Float32Array;
  } finally {
    await session.release();
  }
}

test('rerunning the training reproduces the committed files byte for byte', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'switchyard-fraud-'));
  try {
    await writeFraudModels(outDir);
    for (const file of GENERATED_FILES) {
      const [rebuilt, committed] = await Promise.all([
        readFile(join(outDir, file)),
        readFile(join(COMMITTED_DIR, file)),
      ]);
      assert.ok(
        rebuilt.equals(committed),
        `${file} differs from the committed copy; rerun npm run models:train`,
      );
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});

test('each model is the documented ONNX graph', async () => {
  for (const version of ['1', '2', '3']) {
    const model = onnx.ModelProto.decode(await readFile(join(COMMITTED_DIR, version, 'model.onnx')));
    assert.equal(Number(model.irVersion), 7);
    assert.deepEqual(
      model.opsetImport.map((opset) => [opset.domain, Number(opset.version)]),
      [['', 13]],
    );
    assert.equal(model.producerName, 'switchyard-scripts');
    assert.deepEqual(
      model.graph?.node?.map((node) => node.opType),
      ['MatMul', 'Add', 'Relu', 'MatMul', 'Add', 'Sigmoid'],
    );
    const shape = (value: OnnxTypes.IValueInfoProto | undefined) =>
      value?.type?.tensorType?.shape?.dim?.map((dim) => dim.dimParam || Number(dim.dimValue));
    assert.deepEqual(shape(model.graph?.input?.[0]), ['batch', 8]);
    assert.deepEqual(shape(model.graph?.output?.[0]), ['batch', 1]);
  }
});

test('ONNX Runtime scores match the JS forward pass of the stored weights', async () => {
  const rows = 256;
  for (const version of ['1', '2', '3']) {
    const weights = readMlpWeights(await readFile(join(COMMITTED_DIR, version, 'model.onnx')));
    const runtimeScores = await scoreWithOnnxRuntime(version, rows);
    for (let row = 0; row < rows; row++) {
      const features = evaluation.features.subarray(
        row * FRAUD_FEATURE_COUNT,
        (row + 1) * FRAUD_FEATURE_COUNT,
      );
      const expected = forwardPass(weights, features);
      const actual = runtimeScores[row] ?? Number.NaN;
      assert.ok(
        Math.abs(actual - expected) <= 1e-5,
        `v${version} row ${row}: runtime ${actual}, JS ${expected}`,
      );
    }
  }
});

test('v1 and v3 disagree on the reported share of decisions, within 5–30%', async () => {
  const report = await readReport();
  const [v1, v3] = await Promise.all([
    scoreWithOnnxRuntime('1', FRAUD_EVALUATION_COUNT),
    scoreWithOnnxRuntime('3', FRAUD_EVALUATION_COUNT),
  ]);
  let differing = 0;
  v1.forEach((score, row) => {
    if (fraudDecision(score) !== fraudDecision(v3[row] ?? Number.NaN)) differing += 1;
  });
  const measured = differing / FRAUD_EVALUATION_COUNT;
  const reported = report.disagreement['1-3']?.decision.fraction ?? Number.NaN;
  assert.ok(Math.abs(measured - reported) <= 0.005, `runtime ${measured}, report ${reported}`);
  assert.ok(measured > 0.05 && measured < 0.3, `v1/v3 disagreement ${measured}`);
});

test('v1 separates fraud from legitimate transactions (AUC > 0.8)', async () => {
  const scores = await scoreWithOnnxRuntime('1', FRAUD_EVALUATION_COUNT);
  const auc = rocAuc(scores, evaluation.labels);
  assert.ok(auc > 0.8, `AUC ${auc}`);
});
