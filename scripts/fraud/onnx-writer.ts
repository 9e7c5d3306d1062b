/**
 * Writes the fraud MLP as a real ONNX model with onnx-proto (protobufjs), no Python toolchain:
 *
 *   features [batch, 8] ─ MatMul(hidden_weight) ─ Add(hidden_bias) ─ Relu
 *                       ─ MatMul(output_weight) ─ Add(output_bias) ─ Sigmoid ─► score [batch, 1]
 *
 * The graph takes raw feature units: training standardises inputs, and `foldStandardization`
 * moves that scaling into the first layer so the runtime needs no preprocessing step.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

import type { MlpWeights } from './synthetic.js';

const { onnx } = onnxProto;

export const ONNX_IR_VERSION = 7;
export const ONNX_OPSET_VERSION = 13;
export const ONNX_PRODUCER_NAME = 'switchyard-scripts';
export const MLP_INPUT_NAME = 'features';
export const MLP_OUTPUT_NAME = 'score';

/** Initializer names, shared with readers that recover the weights from a model file. */
export const MLP_INITIALIZERS = {
  hiddenWeight: 'hidden_weight',
  hiddenBias: 'hidden_bias',
  outputWeight: 'output_weight',
  outputBias: 'output_bias',
} as const;

/** Per-feature mean and standard deviation the network was trained behind. */
export interface FeatureScaler {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** Weights as training holds them: float64, acting on standardised features. */
export interface StandardizedMlpWeights {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly w1: Float64Array;
  readonly b1: Float64Array;
  readonly w2: Float64Array;
  readonly b2: number;
}

/**
 * relu(((x - mean) / std) · W + b) = relu(x · (W / std) + (b - Σ mean / std · W)).
 * The folding runs in float64 and rounds once to float32, so every consumer (the JS forward pass,
 * the report, ONNX Runtime) sees the very values stored in the file.
 */
export function foldStandardization(weights: StandardizedMlpWeights, scaler: FeatureScaler): MlpWeights {
  const { inputSize, hiddenSize } = weights;
  const w1 = new Float32Array(inputSize * hiddenSize);
  const b1 = new Float32Array(hiddenSize);
  for (let unit = 0; unit < hiddenSize; unit++) {
    let bias = weights.b1[unit] ?? 0;
    for (let input = 0; input < inputSize; input++) {
      const index = input * hiddenSize + unit;
      const scaled = (weights.w1[index] ?? 0) / (scaler.std[input] ?? 1);
      w1[index] = scaled;
      bias -= (scaler.mean[input] ?? 0) * scaled;
    }
    b1[unit] = bias;
  }
  return {
    inputSize,
    hiddenSize,
    w1,
    b1,
    w2: Float32Array.from(weights.w2),
    b2: Float32Array.of(weights.b2),
  };
}

function floatTensor(name: string, dims: number[], values: Float32Array): OnnxTypes.ITensorProto {
  // raw_data is little-endian by the ONNX spec; DataView makes that explicit on any host.
  const rawData = new Uint8Array(values.length * 4);
  const view = new DataView(rawData.buffer);
  values.forEach((value, index) => view.setFloat32(index * 4, value, true));
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData };
}

function batchedFloatValue(name: string, width: number): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] },
      },
    },
  };
}

function node(opType: string, inputs: string[], output: string): OnnxTypes.INodeProto {
  return { name: output, opType, input: inputs, output: [output] };
}

export interface OnnxModelInfo {
  readonly graphName: string;
  readonly docString: string;
  readonly modelVersion: number;
  /** Written in the given order as metadata_props, e.g. the feature order. */
  readonly metadata: readonly (readonly [string, string])[];
}

/** Encodes the MLP; the same weights and info always give the same bytes (no timestamps). */
export function encodeMlpAsOnnx(weights: MlpWeights, info: OnnxModelInfo): Uint8Array {
  const { inputSize, hiddenSize } = weights;
  const names = MLP_INITIALIZERS;
  const graph: OnnxTypes.IGraphProto = {
    name: info.graphName,
    node: [
      node('MatMul', [MLP_INPUT_NAME, names.hiddenWeight], 'hidden_matmul'),
      node('Add', ['hidden_matmul', names.hiddenBias], 'hidden_linear'),
      node('Relu', ['hidden_linear'], 'hidden'),
      node('MatMul', ['hidden', names.outputWeight], 'output_matmul'),
      node('Add', ['output_matmul', names.outputBias], 'logit'),
      node('Sigmoid', ['logit'], MLP_OUTPUT_NAME),
    ],
    initializer: [
      floatTensor(names.hiddenWeight, [inputSize, hiddenSize], weights.w1),
      floatTensor(names.hiddenBias, [hiddenSize], weights.b1),
      floatTensor(names.outputWeight, [hiddenSize, 1], weights.w2),
      floatTensor(names.outputBias, [1], weights.b2),
    ],
    input: [batchedFloatValue(MLP_INPUT_NAME, inputSize)],
    output: [batchedFloatValue(MLP_OUTPUT_NAME, 1)],
  };
  const model: OnnxTypes.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET_VERSION }],
    producerName: ONNX_PRODUCER_NAME,
    modelVersion: info.modelVersion,
    docString: info.docString,
    graph,
    metadataProps: info.metadata.map(([key, value]) => ({ key, value })),
  };
  // Copy out of protobufjs's pooled Buffer so callers own a plain Uint8Array.
  return Uint8Array.from(onnx.ModelProto.encode(model).finish());
}
