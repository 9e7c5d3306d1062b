import type { Datatype, InferRequest, RequestInput, ResponseOutput } from '../../src/protocol/oip.js';
import { badRequest } from './errors.js';
import type { TensorConfig } from './repository/config.js';

export type TypedData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** One named tensor, batch dimension first, in the array type ONNX Runtime takes for its datatype. */
export interface Tensor {
  data: TypedData;
  /** Full shape including the batch dimension. */
  dims: number[];
}

export type OrtType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool';

export const ORT_TYPE: Record<Datatype, OrtType> = {
  FP32: 'float32',
  FP64: 'float64',
  INT32: 'int32',
  INT64: 'int64',
  BOOL: 'bool',
};

export function allocate(datatype: Datatype, length: number): TypedData {
  switch (datatype) {
    case 'FP32':
      return new Float32Array(length);
    case 'FP64':
      return new Float64Array(length);
    case 'INT32':
      return new Int32Array(length);
    case 'INT64':
      return new BigInt64Array(length);
    case 'BOOL':
      return new Uint8Array(length);
  }
}

export const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

export interface DecodedRequest {
  /** Rows in this request: the first dimension, the same for every input. */
  rows: number;
  inputs: Map<string, Tensor>;
  /** Output names the caller asked for, or every output of the model. */
  outputs: string[];
}

/**
 * Checks an OIP request against the model's inputs and copies its data into typed arrays.
 * Every problem names the field it is about, so a caller can fix the request without guessing.
 */
export function decodeRequest(
  body: unknown,
  inputs: readonly TensorConfig[],
  outputs: readonly TensorConfig[],
  maxRows: number,
): DecodedRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('request body must be a JSON object with "inputs"');
  }
  const request = body as Partial<InferRequest>;
  if (!Array.isArray(request.inputs)) throw badRequest('"inputs" must be an array of tensors');
  if (request.id !== undefined && typeof request.id !== 'string') throw badRequest('"id" must be a string');

  const given = new Map<string, { input: RequestInput; index: number }>();
  request.inputs.forEach((input: unknown, index) => {
    if (typeof input !== 'object' || input === null) throw badRequest(`inputs[${index}] must be an object`);
    const name = (input as { name?: unknown }).name;
    if (typeof name !== 'string') throw badRequest(`inputs[${index}].name must be a string`);
    if (given.has(name)) throw badRequest(`inputs[${index}].name: "${name}" is given twice`);
    if (!inputs.some((i) => i.name === name)) {
      throw badRequest(
        `inputs[${index}].name: the model has no input "${name}" (it takes ${inputs.map((i) => i.name).join(', ')})`,
      );
    }
    given.set(name, { input: input as RequestInput, index });
  });

  let rows = -1;
  const decoded = new Map<string, Tensor>();
  for (const spec of inputs) {
    const entry = given.get(spec.name);
    if (!entry) throw badRequest(`inputs: missing input "${spec.name}"`);
    const tensor = decodeInput(entry.input, `inputs[${entry.index}]`, spec);
    const tensorRows = tensor.dims[0] ?? 0;
    if (rows === -1) rows = tensorRows;
    else if (tensorRows !== rows) {
      throw badRequest(
        `inputs[${entry.index}].shape: ${tensorRows} rows where the other inputs have ${rows}`,
      );
    }
    decoded.set(spec.name, tensor);
  }
  if (maxRows > 0 && rows > maxRows) {
    throw badRequest(`inputs: batch of ${rows} rows is above the model's max_batch_size ${maxRows}`);
  }
  return { rows, inputs: decoded, outputs: selectOutputs(request.outputs, outputs) };
}

function decodeInput(input: RequestInput, path: string, spec: TensorConfig): Tensor {
  if (input.datatype !== spec.datatype) {
    throw badRequest(`${path}.datatype: expected ${spec.datatype}, got ${JSON.stringify(input.datatype)}`);
  }
  const shape = input.shape as unknown;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw badRequest(`${path}.shape must be an array of non-negative integers`);
  }
  const dims = shape as number[];
  const expected = `[N, ${spec.dims.join(', ')}]`;
  if (dims.length !== spec.dims.length + 1 || spec.dims.some((d, i) => dims[i + 1] !== d)) {
    throw badRequest(`${path}.shape: [${dims.join(', ')}] does not fit the model's ${expected}`);
  }
  if (dims[0] === 0) throw badRequest(`${path}.shape: a batch needs at least one row`);
  if (!Array.isArray(input.data)) throw badRequest(`${path}.data must be an array`);
  const length = product(dims);
  const data = allocate(spec.datatype, length);
  const written = fill(data, input.data, spec.datatype, path, 0);
  if (written !== length) {
    throw badRequest(`${path}.data: ${written} values for shape [${dims.join(', ')}], which needs ${length}`);
  }
  return { data, dims };
}

/** Copies flat or nested (row-major) JSON data into `target`; returns how many values it held. */
function fill(target: TypedData, source: unknown[], datatype: Datatype, path: string, start: number): number {
  let at = start;
  for (let i = 0; i < source.length; i++) {
    const value = source[i];
    if (Array.isArray(value)) {
      at = fill(target, value, datatype, path, at);
      continue;
    }
    const converted = convert(value, datatype, path, at);
    // Past the end the values are only counted, so the error can say how many there were.
    if (at < target.length) target[at] = converted as never;
    at++;
  }
  return at;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function convert(value: unknown, datatype: Datatype, path: string, index: number): number | bigint {
  switch (datatype) {
    case 'FP32':
    case 'FP64':
      if (typeof value === 'number') return value;
      break;
    case 'INT32':
      if (Number.isInteger(value) && (value as number) >= INT32_MIN && (value as number) <= INT32_MAX) {
        return value as number;
      }
      break;
    case 'INT64':
      if (Number.isSafeInteger(value)) return BigInt(value as number);
      break;
    case 'BOOL':
      if (typeof value === 'boolean') return value ? 1 : 0;
      break;
  }
  throw badRequest(`${path}.data[${index}]: ${JSON.stringify(value)} is not a valid ${datatype} value`);
}

function selectOutputs(requested: unknown, outputs: readonly TensorConfig[]): string[] {
  if (requested === undefined) return outputs.map((o) => o.name);
  if (!Array.isArray(requested)) throw badRequest('"outputs" must be an array');
  return requested.map((entry: unknown, index) => {
    const name = (entry as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') throw badRequest(`outputs[${index}].name must be a string`);
    if (!outputs.some((o) => o.name === name)) {
      throw badRequest(`outputs[${index}].name: the model has no output "${name}"`);
    }
    return name;
  });
}

/** Turns a typed array back into the protocol's JSON form. */
export function encodeOutput(name: string, datatype: Datatype, tensor: Tensor): ResponseOutput {
  const { data } = tensor;
  let values: number[] | boolean[];
  if (data instanceof BigInt64Array) values = Array.from(data, Number);
  else if (datatype === 'BOOL') values = Array.from(data as Uint8Array, (v) => v !== 0);
  else values = Array.from(data as Float32Array);
  return { name, datatype, shape: tensor.dims, data: values };
}
