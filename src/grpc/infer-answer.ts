import { gatewayError } from '../errors.js';
import type { ModelAnswer } from '../http/model-request.js';
import { HEADER_LENGTH, decodeBinary, encodeValues, splitBody } from '../shared/binary-tensors.js';
import type { InferOutputTensor, ModelInferResponse } from '../shared/grpc/inference.js';
import { CONTENTS_FIELD, isNumeric } from '../shared/grpc/rest-messages.js';

interface AnswerOutput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: { binary_data_size?: unknown };
  data?: unknown[];
}

interface AnswerBody {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: AnswerOutput[];
}

const malformed = (detail: string) => gatewayError('UPSTREAM_MALFORMED_ANSWER', detail);

/**
 * A 200 answer of the pipeline (already checked against the model) as a ModelInferResponse. The
 * front door asks for binary outputs, so an answer is normally the binary tensor extension's form
 * (`bytes`: the JSON, then each output's bytes); an output still given as JSON `data` (a datatype
 * the respond stage leaves as JSON) or a whole JSON answer converts too: the form is read from
 * the answer, not assumed. A raw request gets the bytes as they are in `raw_output_contents`
 * (slices of the answer, not copies); a typed one the values decoded once into the datatype's field.
 */
export function grpcResponse(answer: ModelAnswer, raw: boolean): ModelInferResponse {
  const split = answer.bytes ? splitBody(answer.bytes.body, answer.headers[HEADER_LENGTH]) : undefined;
  const body = JSON.parse(split ? split.json.toString() : answer.json) as AnswerBody;
  const tensors = split?.tensors;
  let offset = 0;
  const outputs: InferOutputTensor[] = [];
  const rawContents: Buffer[] = [];
  for (const output of body.outputs) {
    const { name, datatype, shape } = output;
    if (!isNumeric(datatype)) throw malformed(`output ${name}: datatype ${datatype}`);
    const size = output.parameters?.binary_data_size;
    let bytes: Buffer | undefined;
    if (size !== undefined) {
      if (!Number.isSafeInteger(size) || !tensors || offset + (size as number) > tensors.length) {
        throw malformed(`output ${name}: binary_data_size ${String(size)} beyond the answer's bytes`);
      }
      bytes = tensors.subarray(offset, (offset += size as number));
    }
    const tensor: InferOutputTensor = { name, datatype, shape };
    if (raw) rawContents.push(bytes ?? encodeValues(datatype, (output.data ?? []).flat(Infinity)));
    else {
      const values = bytes ? decodeBinary(datatype, bytes) : (output.data ?? []).flat(Infinity);
      tensor.contents = { [CONTENTS_FIELD[datatype]]: values };
    }
    outputs.push(tensor);
  }
  return {
    model_name: body.model_name,
    model_version: body.model_version ?? '',
    id: body.id ?? '',
    outputs,
    raw_output_contents: rawContents,
  };
}
