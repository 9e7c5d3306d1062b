import { decodeBinary, encodeValues } from '../shared/binary-tensors.js';
import type {
  InferOutputTensor,
  InferTensorContents,
  ModelInferRequest,
  ModelInferResponse,
} from '../shared/grpc/inference.js';
import {
  CONTENTS_FIELD,
  isNumeric,
  numericSize,
  restParameters,
  type Numeric,
} from '../shared/grpc/rest-messages.js';
import { gatewayError } from '../errors.js';

/**
 * The gateway's gRPC ModelInfer as the Open Inference Protocol's JSON, both ways: the pipeline
 * (auth, routing, validation, cache, fallback, shadow, the prediction log) works on the REST
 * body, so a gRPC call is handed to it as that body and its answer turned back into a
 * ModelInferResponse (kserve/open-inference-protocol inference_grpc.md, "Inference"; raw contents
 * laid out as "Tensor Data" says: row-major, little-endian, each datatype's size).
 */

const invalid = (detail: string) => gatewayError('INPUT_INVALID', detail);

/** The REST body of a ModelInferRequest; refuses (INPUT_INVALID) what the message form alone gets wrong. */
export function restBody(request: ModelInferRequest): object {
  const raw = request.raw_input_contents;
  if (raw.length > 0 && raw.length !== request.inputs.length) {
    throw invalid(`raw_input_contents: ${raw.length} entries for ${request.inputs.length} inputs`);
  }
  return {
    ...(request.id === '' ? {} : { id: request.id }),
    ...restParameters(request.parameters),
    inputs: request.inputs.map((input, index) => {
      if (!isNumeric(input.datatype)) {
        throw invalid(`inputs[${index}].datatype: ${JSON.stringify(input.datatype)} is not served over gRPC`);
      }
      const data =
        raw.length > 0
          ? fromBytes(input.datatype, raw[index]!, `inputs[${index}]`)
          : typedValues(input.datatype, input.contents, index);
      return {
        name: input.name,
        datatype: input.datatype,
        shape: input.shape,
        ...restParameters(input.parameters),
        data,
      };
    }),
    ...(request.outputs.length === 0
      ? {}
      : { outputs: request.outputs.map((o) => ({ name: o.name, ...restParameters(o.parameters) })) }),
  };
}

function typedValues(
  datatype: Numeric,
  contents: Partial<InferTensorContents> | null,
  index: number,
): unknown[] {
  const field = CONTENTS_FIELD[datatype];
  if (!contents) throw invalid(`inputs[${index}].contents: missing, and no raw_input_contents`);
  for (const [other, values] of Object.entries(contents)) {
    if (other !== field && Array.isArray(values) && values.length > 0) {
      throw invalid(`inputs[${index}].contents: ${datatype} values go in ${field}, not ${other}`);
    }
  }
  return (contents[field] as unknown[] | undefined) ?? [];
}

function fromBytes(datatype: Numeric, bytes: Buffer, path: string): unknown[] {
  const size = numericSize(datatype);
  if (bytes.length % size !== 0) {
    throw invalid(
      `${path}: raw contents of ${bytes.length} bytes are not whole ${datatype} values of ${size} bytes`,
    );
  }
  // Raw contents are laid out as the binary tensor extension's tensors: little-endian, row-major.
  return decodeBinary(datatype, bytes);
}

interface RestOutput {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

/** A REST answer (already checked by the pipeline against the model) as a ModelInferResponse. */
export function grpcResponse(
  answer: { model_name: string; model_version?: string; id?: string; outputs: RestOutput[] },
  raw: boolean,
): ModelInferResponse {
  const outputs: InferOutputTensor[] = [];
  const rawContents: Buffer[] = [];
  for (const output of answer.outputs) {
    const tensor: InferOutputTensor = { name: output.name, datatype: output.datatype, shape: output.shape };
    const datatype = output.datatype;
    const values = output.data.flat(Infinity);
    if (!isNumeric(datatype))
      throw gatewayError('UPSTREAM_MALFORMED_ANSWER', `output ${output.name}: datatype ${datatype}`);
    if (raw) rawContents.push(encodeValues(datatype, values));
    else tensor.contents = { [CONTENTS_FIELD[datatype]]: values };
    outputs.push(tensor);
  }
  return {
    model_name: answer.model_name,
    model_version: answer.model_version ?? '',
    id: answer.id ?? '',
    outputs,
    raw_output_contents: rawContents,
  };
}
