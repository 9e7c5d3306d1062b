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

/**
 * Whether a parsed runtime answer has the shape the gateway reads: an `outputs` array of tensors
 * with a name, a shape and flat data. A 200 carrying any other JSON is a failed call, not an
 * answer: the stages after it index into the outputs.
 */
export function isInferResponse(value: unknown): value is InferResponse {
  if (typeof value !== 'object' || value === null) return false;
  const { outputs } = value as { outputs?: unknown };
  if (!Array.isArray(outputs)) return false;
  for (const output of outputs as unknown[]) {
    if (typeof output !== 'object' || output === null) return false;
    const { name, shape, data } = output as { name?: unknown; shape?: unknown; data?: unknown };
    if (typeof name !== 'string' || !Array.isArray(shape) || !Array.isArray(data)) return false;
  }
  return true;
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
  const stated = metadata.parameters?.max_batch_size;
  if (typeof stated !== 'number' || !Number.isInteger(stated) || stated < 0) return undefined;
  const variableFirst = (tensor: TensorMetadata) => tensor.shape[0] === -1;
  if (!metadata.inputs.every(variableFirst) || !metadata.outputs.every(variableFirst)) return undefined;
  return { maxRows: stated };
}
