/**
 * Open Inference Protocol v2 (KServe v2 / Triton) REST shapes, shared by the gateway and the runtime.
 * https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
 */

/** The tensor datatypes switchyard serves. The protocol names more (UINT8, FP16, BYTES, …). */
export const DATATYPES = ['BOOL', 'INT32', 'INT64', 'FP32', 'FP64'] as const;
export type Datatype = (typeof DATATYPES)[number];

export type TensorData = number[] | boolean[] | NestedData;
export type NestedData = Array<number | boolean | NestedData>;

export interface RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data: TensorData;
}

export interface RequestOutput {
  name: string;
  parameters?: Record<string, unknown>;
}

export interface InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: RequestInput[];
  outputs?: RequestOutput[];
}

export interface ResponseOutput {
  name: string;
  shape: number[];
  datatype: Datatype;
  data: number[] | boolean[];
}

export interface InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: ResponseOutput[];
}

export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  /** -1 marks a variable dimension (the batch dimension, when the model batches). */
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** Not in the protocol's required fields; the protocol allows extensions. */
  parameters?: Record<string, unknown>;
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

/**
 * Whether the model takes its rows along a first dimension, and how many at most (0: any): when
 * the runtime states `parameters.max_batch_size` (switchyard's runtime does, for every model) and
 * every input and output has a variable first dimension. A variable first dimension alone does
 * not make it a batch dimension (a sequence model's tokens), so without the stated size there is
 * none. Then a request's rows are the first dimension of every input, and of every output.
 */
export function batchDimension(metadata: ModelMetadata): { maxRows: number } | undefined {
  // Asked per request; a version's metadata is fetched once and kept, so once per metadata.
  if (!batchDimensions.has(metadata)) batchDimensions.set(metadata, findBatchDimension(metadata));
  return batchDimensions.get(metadata);
}

const batchDimensions = new WeakMap<ModelMetadata, { maxRows: number } | undefined>();

function findBatchDimension(metadata: ModelMetadata): { maxRows: number } | undefined {
  const stated = metadata.parameters?.max_batch_size;
  if (typeof stated !== 'number' || !Number.isInteger(stated) || stated < 0) return undefined;
  const variableFirst = (tensor: TensorMetadata) => tensor.shape[0] === -1;
  if (!metadata.inputs.every(variableFirst) || !metadata.outputs.every(variableFirst)) return undefined;
  return { maxRows: stated };
}

const INT_RANGES: Record<string, [number, number]> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

/**
 * Whether a JSON value is one of the datatype's, in a request or in an answer. JSON has no NaN or
 * Infinity, but JSON.parse makes a number too large for a double (1e309) Infinity, which
 * JSON.stringify would forward as null; one too large for FP32 (1e39) becomes Infinity in the
 * runtime's Float32Array. INT64 stops at 2^53: past it a JSON number has lost its exact value.
 * BYTES elements are strings in the protocol's JSON form.
 */
export function valueCheck(datatype: string): (value: unknown) => boolean {
  let check = checks.get(datatype);
  if (!check) {
    check = makeValueCheck(datatype);
    // Bounded: a broken runtime may name any datatype in its answers.
    if (checks.size < 64) checks.set(datatype, check);
  }
  return check;
}

const checks = new Map<string, (value: unknown) => boolean>();

function makeValueCheck(datatype: string): (value: unknown) => boolean {
  if (datatype === 'BOOL') return (value) => typeof value === 'boolean';
  if (datatype === 'BYTES') return (value) => typeof value === 'string';
  if (datatype === 'FP32' || datatype === 'BF16') {
    return (value) => typeof value === 'number' && Number.isFinite(Math.fround(value));
  }
  // IEEE 754 binary16: the largest finite value is 65504.
  if (datatype === 'FP16') return (value) => typeof value === 'number' && Math.abs(value) <= 65504;
  if (datatype.startsWith('FP')) return (value) => typeof value === 'number' && Number.isFinite(value);
  const range = INT_RANGES[datatype];
  if (range) {
    const [min, max] = range;
    return (value) => Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
  }
  return (value) => typeof value === 'number' && Number.isFinite(value);
}
