import {
  BinaryBodyError,
  LITTLE_ENDIAN,
  binaryOutputs,
  bytesOf,
  swapped,
} from '../../src/shared/binary-tensors.js';
import type { Datatype, InferRequest, RequestInput } from '../../src/shared/oip.js';
import type { InferBody } from './body.js';
import { badRequest } from './errors.js';
import { tensorDataFromBytes } from './raw-tensor.js';
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
  /** Which of `outputs` go back as binary tensors; undefined when none does. */
  binaryOutputs: readonly boolean[] | undefined;
}

/**
 * Checks an OIP request against the model's inputs and copies its data into typed arrays.
 * Every problem names the field it is about, so a caller can fix the request without guessing.
 */
export function decodeRequest(
  { request: body, binary }: InferBody,
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
  checkParameters(request.parameters, 'parameters');

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
    const tensor = decodeInput(
      given[index] as RequestInput,
      `inputs[${index}]`,
      spec,
      maxRows,
      binary?.[index],
    );
    const tensorRows = tensor.dims[0] ?? 0;
    if (rows === -1) rows = tensorRows;
    else if (tensorRows !== rows) {
      throw badRequest(`inputs[${index}].shape: ${tensorRows} rows where the other inputs have ${rows}`);
    }
    decoded.set(spec.name, tensor);
  }
  const selected = selectOutputs(request.outputs, outputs);
  let binaryAsked: boolean[] | undefined;
  try {
    binaryAsked = binaryOutputs(request.parameters, request.outputs, selected.length);
  } catch (error) {
    if (error instanceof BinaryBodyError) throw badRequest(error.message);
    throw error;
  }
  return { rows, inputs: decoded, outputs: selected, binaryOutputs: binaryAsked };
}

function indexOfName(specs: readonly TensorConfig[], name: string): number {
  for (let i = 0; i < specs.length; i++) if (specs[i]!.name === name) return i;
  return -1;
}

function decodeInput(
  input: RequestInput,
  path: string,
  spec: TensorConfig,
  maxRows: number,
  binary: Buffer | undefined,
): Tensor {
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
  // Before anything is allocated for the shape: a few bytes of JSON may claim any number of rows.
  if (maxRows > 0 && dims[0]! > maxRows) {
    throw badRequest(
      `${path}.shape: batch of ${dims[0]} rows is above the model's max_batch_size ${maxRows}`,
    );
  }
  // gRPC's raw_input_contents: runtimes/onnx/grpc/request.ts hands the input's bytes in `data`.
  const raw: unknown = input.data;
  if (raw instanceof Uint8Array) {
    checkParameters(input.parameters, `${path}.parameters`);
    return { data: tensorDataFromBytes(raw, spec.datatype, product(dims), path), dims };
  }
  checkParameters(input.parameters, `${path}.parameters`);
  // Its size was checked against this shape and datatype when the body was split (body.ts).
  if (binary !== undefined) return { data: fromBytes(spec.datatype, binary, path), dims };
  if (!Array.isArray(input.data)) throw badRequest(`${path}.data must be an array`);
  const length = product(dims);
  // Counted first, so the typed array is only as large as the values the body really holds
  // (without max_batch_size the shape alone bounds nothing).
  const given = countValues(input.data);
  if (given !== length) {
    throw badRequest(`${path}.data: ${given} values for shape [${dims.join(', ')}], which needs ${length}`);
  }
  const data = allocate(spec.datatype, length);
  fill(data, input.data, spec.datatype, path, 0);
  return { data, dims };
}

/**
 * A binary input's elements as the typed array ONNX Runtime takes, never as JS values: a view of
 * the body's bytes where they sit at an offset the element size divides (a typed array needs
 * that), else one copy of the bytes. Big-endian platforms get a byte-swapped copy.
 */
function fromBytes(datatype: Datatype, bytes: Buffer, path: string): TypedData {
  if (datatype === 'BOOL') {
    // One byte an element, and the extension allows only 1 (true) and 0 (false).
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! > 1) throw badRequest(`${path}: byte ${i} is ${bytes[i]}, not a BOOL (0 or 1)`);
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  const size = ELEMENT_SIZE[datatype];
  const source = LITTLE_ENDIAN ? bytes : swapped(bytes, size);
  if (source.byteOffset % size === 0)
    return view(datatype, source.buffer, source.byteOffset, source.length / size);
  const data = allocate(datatype, source.length / size);
  new Uint8Array(data.buffer).set(source);
  return data;
}

const ELEMENT_SIZE: Record<Exclude<Datatype, 'BOOL'>, number> = { FP32: 4, FP64: 8, INT32: 4, INT64: 8 };

function view(datatype: Datatype, buffer: ArrayBufferLike, offset: number, length: number): TypedData {
  switch (datatype) {
    case 'FP32':
      return new Float32Array(buffer, offset, length);
    case 'FP64':
      return new Float64Array(buffer, offset, length);
    case 'INT32':
      return new Int32Array(buffer, offset, length);
    case 'INT64':
      return new BigInt64Array(buffer, offset, length);
    case 'BOOL':
      return new Uint8Array(buffer, offset, length);
  }
}

/** How many values flat or nested (row-major) JSON data holds. */
function countValues(source: unknown[]): number {
  let count = 0;
  for (let i = 0; i < source.length; i++) {
    const value = source[i];
    count += Array.isArray(value) ? countValues(value) : 1;
  }
  return count;
}

/** Copies flat or nested (row-major) JSON data, counted beforehand to fit, into `target`. */
function fill(target: TypedData, source: unknown[], datatype: Datatype, path: string, start: number): number {
  let at = start;
  for (let i = 0; i < source.length; i++) {
    const value = source[i];
    if (Array.isArray(value)) {
      at = fill(target, value, datatype, path, at);
      continue;
    }
    target[at] = convert(value, datatype, path, at) as never;
    at++;
  }
  return at;
}

const MAX_JSON_INT = BigInt(Number.MAX_SAFE_INTEGER);
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function convert(value: unknown, datatype: Datatype, path: string, index: number): number | bigint {
  switch (datatype) {
    // JSON has no NaN or Infinity, but JSON.parse turns a number too large for a double (1e309)
    // into Infinity, and one too large for a float (1e39) becomes Infinity in a Float32Array: a
    // non-finite input only makes a non-finite output.
    case 'FP32':
      if (typeof value === 'number' && Number.isFinite(Math.fround(value))) return value;
      break;
    case 'FP64':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
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
  const shown = typeof value === 'number' ? String(value) : JSON.stringify(value); // Infinity, not null
  throw badRequest(`${path}.data[${index}]: ${shown} is not a valid ${datatype} value`);
}

function selectOutputs(requested: unknown, outputs: readonly TensorConfig[]): readonly TensorConfig[] {
  if (requested === undefined) return outputs;
  if (!Array.isArray(requested)) throw badRequest('"outputs" must be an array');
  // The protocol leaves out "outputs" to ask for every output; an empty list asks for nothing.
  if (requested.length === 0) throw badRequest('"outputs" must name at least one output, or be left out');
  const selected: TensorConfig[] = [];
  requested.forEach((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null) throw badRequest(`outputs[${index}] must be an object`);
    const { name, parameters } = entry as { name?: unknown; parameters?: unknown };
    if (typeof name !== 'string') throw badRequest(`outputs[${index}].name must be a string`);
    const spec = outputs.find((o) => o.name === name);
    if (!spec) throw badRequest(`outputs[${index}].name: the model has no output "${name}"`);
    if (selected.includes(spec)) throw badRequest(`outputs[${index}].name: "${name}" is asked for twice`);
    checkParameters(parameters, `outputs[${index}].parameters`);
    selected.push(spec);
  });
  return selected;
}

/**
 * The protocol's `parameters` (request, input or output): an object whose values are strings,
 * numbers or booleans (KServe v2 protocol, "Parameters"). The runtime reads none of them.
 */
function checkParameters(parameters: unknown, path: string): void {
  if (parameters === undefined) return;
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    throw badRequest(`${path} must be an object`);
  }
  for (const [key, value] of Object.entries(parameters)) {
    const type = typeof value;
    if (type !== 'string' && type !== 'number' && type !== 'boolean') {
      throw badRequest(`${path}.${key} must be a string, a number or a boolean`);
    }
  }
}

/**
 * One output of a response as JSON text: rows `row` to `row + rows` of a run's tensor that had
 * `runRows` rows. The text is what JSON.stringify gives for `{name, datatype, shape, data}`,
 * written directly: no array of values, no serializer walking it. JSON has no NaN or Infinity:
 * a non-finite value in this request's rows is refused (400). The model computed it from this
 * request's values (finite, in range, but extreme enough to overflow inside the model), so every
 * replica would answer the same: it is the request's failure, not the runtime's.
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
    for (let i = start; i < end; i++) {
      // A binary INT64 input may hold any 64-bit value; JSON's numbers are exact only to 2^53.
      const value = data[i]!;
      if (value > MAX_JSON_INT || value < -MAX_JSON_INT) {
        throw badRequest(
          `outputs: the model's output "${spec.name}" is ${value} for this input, beyond what a JSON number carries exactly; ask for it in binary`,
        );
      }
      text += (i > start ? ',' : '') + String(Number(value));
    }
  } else if (spec.datatype === 'BOOL') {
    for (let i = start; i < end; i++) text += (i > start ? ',' : '') + (data[i] !== 0 ? 'true' : 'false');
  } else {
    const numbers = data as Float32Array;
    for (let i = start; i < end; i++) {
      const value = numbers[i]!;
      if (!Number.isFinite(value)) {
        throw badRequest(
          `outputs: the model's output "${spec.name}" is ${value} for this input (row ${Math.floor((i - start) / rowSize)}); JSON cannot carry it`,
        );
      }
      text += (i > start ? ',' : '') + String(value);
    }
  }
  return `${text}]}`;
}

/**
 * One output of a response as a binary tensor (the binary tensor extension): the JSON of the
 * output, with `parameters.binary_data_size` in place of `data`, and its bytes, a view of rows
 * `row` to `row + rows` of the run's tensor. A non-finite value is refused as in `outputJson`: the
 * runtime answers none in either form, so the gateway's check of an answer is one rule.
 */
export function outputBinary(
  spec: TensorConfig,
  tensor: Tensor,
  runRows: number,
  row: number,
  rows: number,
): { json: string; bytes: Buffer } {
  const { data, dims } = tensor;
  const rowSize = data.length / runRows;
  const start = row * rowSize;
  const end = start + rows * rowSize;
  if (data instanceof Float32Array || data instanceof Float64Array) {
    for (let i = start; i < end; i++) {
      if (!Number.isFinite(data[i]!)) {
        throw badRequest(
          `outputs: the model's output "${spec.name}" is ${data[i]} for this input (row ${Math.floor((i - start) / rowSize)})`,
        );
      }
    }
  }
  const bytes = bytesOf(data, start * data.BYTES_PER_ELEMENT, (end - start) * data.BYTES_PER_ELEMENT);
  let json = `{"name":${JSON.stringify(spec.name)},"datatype":"${spec.datatype}","shape":[${rows}`;
  for (let i = 1; i < dims.length; i++) json += `,${dims[i]}`;
  json += `],"parameters":{"binary_data_size":${bytes.length}}}`;
  return { json, bytes };
}
