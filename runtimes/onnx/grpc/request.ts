import type { InferBody } from '../body.js';
import type {
  InferInputTensor,
  InferParameters,
  InferTensorContents,
  ModelInferRequest,
} from '../../../src/shared/grpc/inference.js';
import type { Datatype } from '../../../src/shared/oip.js';
import { badRequest } from '../errors.js';

/** The InferTensorContents field that holds each datatype's values (inference_grpc.md, "Tensor Data"). */
const CONTENTS_FIELD: Record<Datatype, keyof InferTensorContents> = {
  BOOL: 'bool_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
};

const ALL_FIELDS = [
  'bool_contents',
  'int_contents',
  'int64_contents',
  'uint_contents',
  'uint64_contents',
  'fp32_contents',
  'fp64_contents',
  'bytes_contents',
] as const satisfies readonly (keyof InferTensorContents)[];

/**
 * A ModelInferRequest as the body the HTTP infer takes, so both protocols go through one
 * validation (tensors.ts decodeRequest) and one batcher: typed contents become the input's `data`
 * array, raw contents its bytes (decodeRequest copies those into the tensor as they are). Only
 * what JSON cannot get wrong in the same way is checked here: raw and typed contents mixed, raw
 * contents not one per input, values in a field other than their datatype's.
 */
export function inferBody(request: ModelInferRequest): InferBody {
  const raw = request.raw_input_contents;
  if (raw.length > 0 && raw.length !== request.inputs.length) {
    throw badRequest(
      `raw_input_contents: ${raw.length} entries for ${request.inputs.length} inputs; it takes one per input, in their order`,
    );
  }
  // Raw contents travel in each input's `data` as bytes (tensors.ts reads them, size checked
  // there): not the binary tensor extension's `binary`, whose sizes the HTTP body split checks.
  const body = {
    id: request.id === '' ? undefined : request.id,
    parameters: plainParameters(request.parameters),
    inputs: request.inputs.map((input, index) => ({
      name: input.name,
      datatype: input.datatype,
      shape: input.shape,
      parameters: plainParameters(input.parameters),
      data: raw.length > 0 ? rawData(input, raw[index]!, index) : typedData(input, index),
    })),
    // The protocol leaves the list empty to ask for every output.
    outputs:
      request.outputs.length === 0
        ? undefined
        : request.outputs.map((output) => ({
            name: output.name,
            parameters: plainParameters(output.parameters),
          })),
  };
  return { request: body, binary: undefined };
}

function rawData(input: InferInputTensor, bytes: Buffer, index: number): Buffer {
  if (input.contents && ALL_FIELDS.some((field) => (input.contents![field]?.length ?? 0) > 0)) {
    throw badRequest(
      `inputs[${index}].contents: given beside raw_input_contents; a request uses one or the other`,
    );
  }
  return bytes;
}

function typedData(input: InferInputTensor, index: number): unknown[] {
  const field = CONTENTS_FIELD[input.datatype as Datatype] as keyof InferTensorContents | undefined;
  // A datatype the runtime does not serve: decodeRequest refuses it by name.
  if (!field) return [];
  const contents = input.contents;
  if (!contents) {
    throw badRequest(
      `inputs[${index}].contents: missing; give the values in contents.${field}, or every input's bytes in raw_input_contents`,
    );
  }
  for (const other of ALL_FIELDS) {
    if (other !== field && (contents[other]?.length ?? 0) > 0) {
      throw badRequest(`inputs[${index}].contents: ${input.datatype} values go in ${field}, not ${other}`);
    }
  }
  return contents[field] ?? [];
}

/** The protocol's parameter map as plain values; a parameter with no value set stays undefined (refused). */
function plainParameters(parameters: InferParameters): Record<string, unknown> | undefined {
  const keys = Object.keys(parameters);
  if (keys.length === 0) return undefined;
  const plain: Record<string, unknown> = {};
  for (const key of keys) {
    const parameter = parameters[key]!;
    plain[key] = parameter.parameter_choice ? parameter[parameter.parameter_choice] : undefined;
  }
  return plain;
}
