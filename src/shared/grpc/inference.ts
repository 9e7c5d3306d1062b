import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type ServiceDefinition } from '@grpc/proto-loader';

/**
 * The Open Inference Protocol's gRPC service (inference.proto beside this file says which
 * document it follows), loaded once, and the TypeScript shapes of its messages as
 * @grpc/proto-loader decodes them with LOAD_OPTIONS: field names as the protocol spells them,
 * int64 as JS numbers (as JSON has them: a value past 2^53 is no longer a safe integer and is
 * refused where the runtime reads it), bytes as Buffers, every field present with its default.
 */
export const LOAD_OPTIONS: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
};

export const INFERENCE_PROTO = fileURLToPath(new URL('./inference.proto', import.meta.url));
export const HEALTH_PROTO = fileURLToPath(new URL('./health.proto', import.meta.url));

/** The name the inference service answers health checks under (its full protobuf name). */
export const INFERENCE_SERVICE_NAME = 'inference.GRPCInferenceService';

let inference: ServiceDefinition | undefined;
let health: ServiceDefinition | undefined;

/** `inference.GRPCInferenceService`, for a grpc-js server's addService or a client's constructor. */
export function inferenceService(): ServiceDefinition {
  inference ??= loadSync(INFERENCE_PROTO, LOAD_OPTIONS)[INFERENCE_SERVICE_NAME] as ServiceDefinition;
  return inference;
}

/** `grpc.health.v1.Health` (health.proto beside this file), as inferenceService. */
export function healthService(): ServiceDefinition {
  health ??= loadSync(HEALTH_PROTO, LOAD_OPTIONS)['grpc.health.v1.Health'] as ServiceDefinition;
  return health;
}

/** A Check answer; with `enums: String` the status is the enum value's name. */
export interface HealthCheckResponse {
  status: 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
}

/** One of the protocol's parameter values; `parameter_choice` names the field that is set. */
export interface InferParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: number;
  string_param?: string;
  double_param?: number;
  uint64_param?: number;
}

export type InferParameters = Record<string, InferParameter>;

/**
 * A tensor's elements in the field of its datatype. Plain arrays, also when encoding: protobufjs's
 * `fromObject`, which proto-loader runs before encoding, refuses typed arrays.
 */
export interface InferTensorContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: number[];
  uint_contents: number[];
  uint64_contents: number[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

export interface InferInputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters: InferParameters;
  contents: Partial<InferTensorContents> | null;
}

export interface ModelInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: InferParameters;
  inputs: InferInputTensor[];
  outputs: { name: string; parameters: InferParameters }[];
  raw_input_contents: Buffer[];
}

export interface InferOutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: InferParameters;
  contents?: Partial<InferTensorContents>;
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: InferParameters;
  outputs: InferOutputTensor[];
  raw_output_contents: Buffer[];
}

/** ModelReady and ModelMetadata ask by name and (optionally, empty when not) version. */
export interface ModelRef {
  name: string;
  version: string;
}

export interface ModelMetadataResponse {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

export interface ServerMetadataResponse {
  name: string;
  version: string;
  extensions: string[];
}
