import { decodeBinary, elementBytes, encodeValues } from '../binary-tensors.js';
import type {
  InferParameter,
  InferParameters,
  InferTensorContents,
  ModelInferRequest,
  ModelInferResponse,
} from './inference.js';

/**
 * The Open Inference Protocol's REST JSON and its gRPC messages, for the gateway both ways: its
 * gRPC front door (src/grpc/infer-body.ts) hands ModelInferRequests to the pipeline as REST
 * bodies, and its calls to grpc:// runtimes (src/outbound/grpc-exchange.ts) send the pipeline's
 * REST bodies as ModelInferRequests and read the ModelInferResponses back as the JSON the runtime's
 * REST endpoint would have answered. Both follow kserve/open-inference-protocol
 * inference_grpc.md: "Inference" for the messages, "Tensor Data" for contents — each datatype's
 * values in its own InferTensorContents field, or every tensor's bytes in raw_*_contents,
 * row-major, little-endian, each element its datatype's size (the binary tensor extension's
 * layout, src/shared/binary-tensors.ts), a BYTES element as a 4-byte length and its bytes.
 */

export type Numeric =
  'BOOL' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'FP32' | 'FP64';

/** The InferTensorContents field that holds each numeric datatype's values ("Tensor Data"). */
export const CONTENTS_FIELD: Readonly<Record<Numeric, keyof InferTensorContents>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
};

export const isNumeric = (datatype: string): datatype is Numeric => Object.hasOwn(CONTENTS_FIELD, datatype);

/** The protocol's parameter map as REST's plain values (a parameter with no value set is null). */
export function restParameters(parameters: InferParameters | undefined): {
  parameters?: Record<string, unknown>;
} {
  const keys = parameters === undefined ? [] : Object.keys(parameters);
  if (keys.length === 0) return {};
  const plain: Record<string, unknown> = {};
  for (const key of keys) {
    const parameter = parameters![key]!;
    plain[key] = parameter.parameter_choice ? parameter[parameter.parameter_choice] : null;
  }
  return { parameters: plain };
}

/** A request or answer that cannot be said in the other form: the request's fault (a 400). */
export class ConversionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConversionError';
  }
}

/** The tensor and parameter fields of a REST inference request, as the pipeline forwards it. */
export interface RestInferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: readonly {
    name: string;
    datatype: string;
    shape: readonly number[];
    parameters?: Record<string, unknown>;
    data?: unknown;
  }[];
  outputs?: readonly { name: string; parameters?: Record<string, unknown> }[];
}

/**
 * A REST request as a ModelInferRequest for `model` and `version`, every input's bytes in
 * raw_input_contents (no per-value protobuf fields to encode or decode: the cheapest form both
 * ways, and the runtime then answers raw too). `binaryOf(index)` gives an input's bytes when it
 * came as a binary tensor (its JSON has `binary_data_size` and no `data`); other inputs' values
 * are encoded. The binary tensor extension's own parameter does not go on: raw contents replace it.
 */
export function modelInferRequest(
  model: string,
  version: string,
  request: RestInferRequest,
  binaryOf: (index: number) => Buffer | undefined,
): ModelInferRequest {
  const raw: Buffer[] = [];
  const inputs = request.inputs.map((input, index) => {
    const path = `inputs[${index}]`;
    raw.push(binaryOf(index) ?? encodedData(input.datatype, input.data, path));
    const { binary_data_size: _size, ...parameters } = input.parameters ?? {};
    return {
      name: input.name,
      datatype: input.datatype,
      shape: [...input.shape],
      parameters: grpcParameters(parameters, `${path}.parameters`),
      contents: null,
    };
  });
  return {
    model_name: model,
    model_version: version,
    id: request.id ?? '',
    parameters: grpcParameters(request.parameters, 'parameters'),
    inputs,
    outputs: (request.outputs ?? []).map((output, index) => ({
      name: output.name,
      parameters: grpcParameters(output.parameters, `outputs[${index}].parameters`),
    })),
    raw_input_contents: raw,
  };
}

function encodedData(datatype: string, data: unknown, path: string): Buffer {
  if (!Array.isArray(data)) throw new ConversionError(`${path}.data: not an array`);
  const values = data.some(Array.isArray) ? data.flat(Infinity) : data;
  if (datatype === 'BYTES') return bytesElements(values, path);
  try {
    return encodeValues(datatype, values);
  } catch (error) {
    throw new ConversionError(`${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** BYTES elements (strings) as raw contents: each a 4-byte little-endian length, then its bytes. */
function bytesElements(values: readonly unknown[], path: string): Buffer {
  const parts: Buffer[] = [];
  for (const value of values) {
    if (typeof value !== 'string') throw new ConversionError(`${path}.data: a BYTES element is not a string`);
    const bytes = Buffer.from(value);
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32LE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

/**
 * REST's plain parameter values as the protocol's InferParameter: a boolean, a string, a whole
 * number (int64) or another number (double). Nothing else has a field to go in: the runtime's
 * REST endpoint refuses such a value too (400).
 */
export function grpcParameters(plain: Record<string, unknown> | undefined, path: string): InferParameters {
  const parameters: InferParameters = {};
  if (plain === undefined) return parameters;
  for (const [key, value] of Object.entries(plain)) parameters[key] = grpcParameter(value, `${path}.${key}`);
  return parameters;
}

function grpcParameter(value: unknown, path: string): InferParameter {
  switch (typeof value) {
    case 'boolean':
      return { parameter_choice: 'bool_param', bool_param: value };
    case 'string':
      return { parameter_choice: 'string_param', string_param: value };
    case 'number':
      return Number.isSafeInteger(value)
        ? { parameter_choice: 'int64_param', int64_param: value }
        : { parameter_choice: 'double_param', double_param: value };
    default:
      throw new ConversionError(`${path} must be a string, a number or a boolean`);
  }
}

/** 2^53 - 1: past it a JSON number no longer holds an INT64 exactly. */
const MAX_JSON_INT = Number.MAX_SAFE_INTEGER;

/**
 * A ModelInferResponse as the JSON text the runtime's REST endpoint answers for the same request
 * (runtimes/onnx/infer.ts jsonAnswer: model_name, model_version, outputs, then id when there is
 * one), each output's values flat in `data`, from raw_output_contents when the runtime answered
 * raw, else from the output's contents field. Protobuf carries NaN, infinities and every 64-bit
 * integer; JSON does not, and the REST endpoint refuses such an answer as the request's (400:
 * the model computed it from the request's values), so this throws a ConversionError worded as
 * the runtime words it.
 */
export function restAnswerText(response: ModelInferResponse): string {
  const raw = response.raw_output_contents;
  const outputs = response.outputs.map((output, index) => {
    const data =
      raw.length > 0 ? decodeBinary(output.datatype, raw[index] ?? Buffer.alloc(0)) : typedValues(output);
    checkJsonValues(output.name, output.datatype, data);
    return {
      name: output.name,
      datatype: output.datatype,
      shape: output.shape,
      ...restParameters(output.parameters),
      data,
    };
  });
  const answer: Record<string, unknown> = {
    model_name: response.model_name,
    model_version: response.model_version,
    ...restParameters(response.parameters),
    outputs,
  };
  if (response.id !== '') answer.id = response.id;
  return JSON.stringify(answer);
}

function typedValues(output: ModelInferResponse['outputs'][number]): unknown[] {
  const contents = output.contents ?? {};
  if (output.datatype === 'BYTES') return (contents.bytes_contents ?? []).map((b) => b.toString('utf8'));
  const field = isNumeric(output.datatype) ? CONTENTS_FIELD[output.datatype] : undefined;
  return field === undefined ? [] : ((contents[field] as unknown[] | undefined) ?? []);
}

function checkJsonValues(name: string, datatype: string, data: readonly unknown[]): void {
  const integer = datatype === 'INT64' || datatype === 'UINT64';
  const float = datatype === 'FP32' || datatype === 'FP64' || datatype === 'FP16' || datatype === 'BF16';
  if (!integer && !float) return;
  for (let i = 0; i < data.length; i++) {
    const value = data[i] as number;
    if (float && !Number.isFinite(value)) {
      throw new ConversionError(
        `outputs: the model's output "${name}" is ${value} for this input; JSON cannot carry it`,
      );
    }
    if (integer && Math.abs(value) > MAX_JSON_INT) {
      throw new ConversionError(
        `outputs: the model's output "${name}" is ${value} for this input, beyond what a JSON number carries exactly; ask for it in binary`,
      );
    }
  }
}

/** Bytes of one element of a numeric datatype. */
export function numericSize(datatype: Numeric): number {
  return elementBytes(datatype)!;
}
