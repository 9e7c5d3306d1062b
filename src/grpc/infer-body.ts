import { decodeBinary, encodeValues } from '../shared/binary-tensors.js';
import type {
  InferInputTensor,
  InferOutputTensor,
  InferParameters,
  InferTensorContents,
  ModelInferRequest,
  ModelInferResponse,
} from '../shared/grpc/inference.js';
import { gatewayError } from '../errors.js';
import {
  CONTENTS_FIELD,
  isNumeric,
  numericSize,
  restParameters,
  type Numeric,
} from '../shared/grpc/rest-messages.js';

/**
 * The gateway's gRPC ModelInfer as the Open Inference Protocol's JSON, both ways: the pipeline
 * (auth, routing, validation, cache, fallback, shadow, the prediction log) works on the REST
 * body, so a gRPC call is handed to it as that body and its answer turned back into a
 * ModelInferResponse (kserve/open-inference-protocol inference_grpc.md, "Inference"; raw contents
 * laid out as "Tensor Data" says: row-major, little-endian, each datatype's size).
 */

const invalid = (detail: string) => gatewayError('INPUT_INVALID', detail);

/** The protocol's datatypes the front door does not convert (inference_grpc.md, "Tensor Data"). */
const UNSERVED = new Set(['FP16', 'BF16', 'BYTES']);

/**
 * The REST body of a ModelInferRequest. Refuses (INPUT_INVALID, through the request handler so the
 * refusal is logged and recorded) what the message form alone gets wrong, which JSON cannot: raw
 * and typed contents mixed, raw contents not one per input or not the byte length the input's
 * shape and datatype take, values in another datatype's field, and a datatype it cannot convert.
 */
export function restBody(request: ModelInferRequest): object {
  const raw = request.raw_input_contents;
  if (raw.length > 0 && raw.length !== request.inputs.length) {
    throw invalid(
      `raw_input_contents: ${raw.length} entries for ${request.inputs.length} inputs; it takes one per input, in their order`,
    );
  }
  return {
    ...(request.id === '' ? {} : { id: request.id }),
    ...parametersOf(request.parameters, 'parameters'),
    inputs: request.inputs.map((input, index) => {
      const path = `inputs[${index}]`;
      if (!isNumeric(input.datatype)) {
        throw invalid(
          UNSERVED.has(input.datatype)
            ? `${path}.datatype: ${input.datatype} is not served over gRPC by the gateway`
            : `${path}.datatype: ${JSON.stringify(input.datatype)} is not a datatype of the protocol`,
        );
      }
      const data =
        raw.length > 0
          ? rawValues(input.datatype, input, raw[index]!, path)
          : typedValues(input.datatype, input.contents, index);
      return {
        name: input.name,
        datatype: input.datatype,
        shape: input.shape,
        ...parametersOf(input.parameters, `${path}.parameters`),
        data,
      };
    }),
    ...(request.outputs.length === 0
      ? {}
      : {
          outputs: request.outputs.map((o, index) => ({
            name: o.name,
            ...parametersOf(o.parameters, `outputs[${index}].parameters`),
          })),
        }),
  };
}

function typedValues(
  datatype: Numeric,
  contents: Partial<InferTensorContents> | null,
  index: number,
): unknown[] {
  const field = CONTENTS_FIELD[datatype];
  if (!contents) {
    throw invalid(
      `inputs[${index}].contents: missing; give the values in contents.${field}, or every input's bytes in raw_input_contents`,
    );
  }
  for (const [other, values] of Object.entries(contents)) {
    if (other !== field && Array.isArray(values) && values.length > 0) {
      throw invalid(`inputs[${index}].contents: ${datatype} values go in ${field}, not ${other}`);
    }
  }
  return (contents[field] as unknown[] | undefined) ?? [];
}

function rawValues(datatype: Numeric, input: InferInputTensor, bytes: Buffer, path: string): unknown[] {
  const given = Object.values(input.contents ?? {}).some(
    (values) => Array.isArray(values) && values.length > 0,
  );
  if (given) {
    throw invalid(`${path}.contents: given beside raw_input_contents; a request uses one or the other`);
  }
  const { shape } = input;
  const size = numericSize(datatype);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(
      `${path}.shape: [${shape.join(', ')}] is not a list of sizes, so its raw contents cannot be read`,
    );
  }
  const expected = shape.reduce((product, d) => product * d, 1) * size;
  if (bytes.length !== expected) {
    throw invalid(
      `${path}: raw contents of ${bytes.length} bytes; shape [${shape.join(', ')}] of ${datatype} (${size} bytes each) takes ${expected}`,
    );
  }
  // Raw contents are laid out as the binary tensor extension's tensors: little-endian, row-major.
  return decodeBinary(datatype, bytes);
}

/**
 * A parameter map as the REST body's plain values. The binary tensor extension's parameters
 * (`binary_data_output`, `binary_data`, `binary_data_size`) are refused: they describe an HTTP
 * body's layout, which a message does not have (raw contents are gRPC's binary form).
 */
function parametersOf(parameters: InferParameters, path: string): { parameters?: Record<string, unknown> } {
  for (const key of Object.keys(parameters)) {
    if (key.startsWith('binary_data')) {
      throw invalid(
        `${path}.${key}: the binary tensor extension is HTTP's; over gRPC send raw_input_contents, which gets a raw answer`,
      );
    }
  }
  return restParameters(parameters);
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
