import type { Datatype, InferRequest, RequestInput } from '../../src/shared/oip.js';
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
  /** The outputs the caller asked for, or every output of the model. */
  outputs: readonly TensorConfig[];
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
  const given: unknown = request.inputs;
  if (!Array.isArray(given)) throw badRequest('"inputs" must be an array of tensors');
  if (request.id !== undefined && typeof request.id !== 'string') throw badRequest('"id" must be a string');

  // Which given tensor is each of the model's inputs (by index in `inputs`); the loops stay
  // allocation-free for the usual handful of inputs.
  const positions = new Array<number>(inputs.length).fill(-1);
  for (let index = 0; index < given.length; index++) {
    const input: unknown = given[index];
    if (typeof input !== 'object' || input === null) throw badRequest(`inputs[${index}] must be an object`);
    const name = (input as { name?: unknown }).name;
    if (typeof name !== 'string') throw badRequest(`inputs[${index}].name must be a string`);
    const at = indexOfName(inputs, name);
    if (at === -1) {
      throw badRequest(
        `inputs[${index}].name: the model has no input "${name}" (it takes ${inputs.map((i) => i.name).join(', ')})`,
      );
    }
    if (positions[at] !== -1) throw badRequest(`inputs[${index}].name: "${name}" is given twice`);
    positions[at] = index;
  }

  let rows = -1;
  const decoded = new Map<string, Tensor>();
  for (let at = 0; at < inputs.length; at++) {
    const spec = inputs[at]!;
    const index = positions[at]!;
    if (index === -1) throw badRequest(`inputs: missing input "${spec.name}"`);
    const tensor = decodeInput(given[index] as RequestInput, `inputs[${index}]`, spec);
    const tensorRows = tensor.dims[0] ?? 0;
    if (rows === -1) rows = tensorRows;
    else if (tensorRows !== rows) {
      throw badRequest(`inputs[${index}].shape: ${tensorRows} rows where the other inputs have ${rows}`);
    }
    decoded.set(spec.name, tensor);
  }
  if (maxRows > 0 && rows > maxRows) {
    throw badRequest(`inputs: batch of ${rows} rows is above the model's max_batch_size ${maxRows}`);
  }
  return { rows, inputs: decoded, outputs: selectOutputs(request.outputs, outputs) };
}

function indexOfName(specs: readonly TensorConfig[], name: string): number {
  for (let i = 0; i < specs.length; i++) if (specs[i]!.name === name) return i;
  return -1;
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
  let fits = dims.length === spec.dims.length + 1;
  for (let i = 0; fits && i < spec.dims.length; i++) fits = dims[i + 1] === spec.dims[i];
  if (!fits) {
    throw badRequest(
      `${path}.shape: [${dims.join(', ')}] does not fit the model's [N, ${spec.dims.join(', ')}]`,
    );
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

function selectOutputs(requested: unknown, outputs: readonly TensorConfig[]): readonly TensorConfig[] {
  if (requested === undefined) return outputs;
  if (!Array.isArray(requested)) throw badRequest('"outputs" must be an array');
  return requested.map((entry: unknown, index) => {
    const name = (entry as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') throw badRequest(`outputs[${index}].name must be a string`);
    const spec = outputs.find((o) => o.name === name);
    if (!spec) throw badRequest(`outputs[${index}].name: the model has no output "${name}"`);
    return spec;
  });
}

/**
 * One output of a response as JSON text: rows `row` to `row + rows` of a run's tensor that had
 * `runRows` rows. The text is what JSON.stringify gives for `{name, datatype, shape, data}`
 * (non-finite numbers as null), written directly: no array of values, no serializer walking it.
 */
export function outputJson(
  spec: TensorConfig,
  tensor: Tensor,
  runRows: number,
  row: number,
  rows: number,
): string {
  const { data, dims } = tensor;
  const rowSize = data.length / runRows;
  const start = row * rowSize;
  const end = start + rows * rowSize;
  let text = `{"name":${JSON.stringify(spec.name)},"datatype":"${spec.datatype}","shape":[${rows}`;
  for (let i = 1; i < dims.length; i++) text += `,${dims[i]}`;
  text += '],"data":[';
  if (data instanceof BigInt64Array) {
    for (let i = start; i < end; i++) text += (i > start ? ',' : '') + String(Number(data[i]));
  } else if (spec.datatype === 'BOOL') {
    for (let i = start; i < end; i++) text += (i > start ? ',' : '') + (data[i] !== 0 ? 'true' : 'false');
  } else {
    const numbers = data as Float32Array;
    for (let i = start; i < end; i++) {
      const value = numbers[i]!;
      text += (i > start ? ',' : '') + (Number.isFinite(value) ? String(value) : 'null');
    }
  }
  return `${text}]}`;
}
