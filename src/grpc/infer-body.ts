import { binaryBody, bytesOf } from '../shared/binary-tensors.js';
import type { InferInputTensor, InferParameters, ModelInferRequest } from '../shared/grpc/inference.js';
import { valueCheck } from '../shared/oip.js';
import {
  CONTENTS_FIELD,
  isNumeric,
  numericSize,
  restParameters,
  type Numeric,
} from '../shared/grpc/rest-messages.js';
import { gatewayError } from '../errors.js';

/**
 * A gRPC ModelInferRequest as the body a REST client of Triton's binary tensor extension sends
 * (src/shared/binary-tensors.ts): a small JSON header (id, parameters, each input's name, shape,
 * datatype and `parameters.binary_data_size`, the outputs asked for), then every input's bytes,
 * with `inference-header-content-length` the header's length. The pipeline (auth, routing,
 * validation, cache, fallback, shadow, the prediction log) works on that body as on a REST one,
 * so the tensors stay bytes up to the runtime and are decoded only where a stage reads values.
 * The request asks for binary outputs (`binary_data_output`), which infer-answer.ts turns back
 * into a ModelInferResponse. Raw contents are laid out as the extension's tensors already
 * (inference_grpc.md, "Tensor Data": row-major, little-endian, each datatype's size).
 */

/** The typed array each datatype's values are written into: its elements are the extension's. */
const ARRAY: Record<Numeric, new (length: number) => ArrayBufferView & ArrayLike<unknown>> = {
  BOOL: Uint8Array,
  INT8: Int8Array,
  UINT8: Uint8Array,
  INT16: Int16Array,
  UINT16: Uint16Array,
  INT32: Int32Array,
  UINT32: Uint32Array,
  FP32: Float32Array,
  FP64: Float64Array,
  INT64: BigInt64Array,
  UINT64: BigUint64Array,
};

const invalid = (detail: string) => gatewayError('INPUT_INVALID', detail);

/** The protocol's datatypes the front door does not convert (inference_grpc.md, "Tensor Data"). */
const UNSERVED = new Set(['FP16', 'BF16', 'BYTES']);

/** The body the request handler takes for a ModelInfer call, and its JSON header's length. */
export interface InferBody {
  body: Buffer;
  headerLength: number;
}

/**
 * The binary tensor body of a ModelInferRequest. Refuses (INPUT_INVALID, through the request
 * handler so the refusal is logged and recorded) what the message form alone gets wrong: raw and
 * typed contents mixed, raw contents not one per input or not the byte length the input's shape
 * and datatype take, typed values not as many as the shape takes or not of the datatype (the
 * checks the pipeline made of the same values as JSON), values in another datatype's field, and
 * a datatype it cannot convert.
 */
export function inferBody(request: ModelInferRequest): InferBody {
  const raw = request.raw_input_contents;
  if (raw.length > 0 && raw.length !== request.inputs.length) {
    throw invalid(
      `raw_input_contents: ${raw.length} entries for ${request.inputs.length} inputs; it takes one per input, in their order`,
    );
  }
  const tensors: Buffer[] = [];
  const header = {
    ...(request.id === '' ? {} : { id: request.id }),
    // The answer's outputs in binary: bytes for raw_output_contents, or decoded once into contents.
    parameters: { ...parametersOf(request.parameters, 'parameters'), binary_data_output: true },
    inputs: request.inputs.map((input, index) => {
      const path = `inputs[${index}]`;
      if (!isNumeric(input.datatype)) {
        throw invalid(
          UNSERVED.has(input.datatype)
            ? `${path}.datatype: ${input.datatype} is not served over gRPC by the gateway`
            : `${path}.datatype: ${JSON.stringify(input.datatype)} is not a datatype of the protocol`,
        );
      }
      const elements = elementCount(input.shape, path);
      const bytes =
        raw.length > 0
          ? rawBytes(input.datatype, input, raw[index]!, elements, path)
          : typedBytes(input.datatype, input, elements, path);
      tensors.push(bytes);
      // As a REST binary client writes an input, so both hash and key alike.
      return {
        name: input.name,
        datatype: input.datatype,
        shape: input.shape,
        parameters: {
          ...parametersOf(input.parameters, `${path}.parameters`),
          binary_data_size: bytes.length,
        },
      };
    }),
    ...(request.outputs.length === 0
      ? {}
      : {
          outputs: request.outputs.map((o, index) => {
            const parameters = parametersOf(o.parameters, `outputs[${index}].parameters`);
            return { name: o.name, ...(Object.keys(parameters).length > 0 ? { parameters } : {}) };
          }),
        }),
  };
  return binaryBody(JSON.stringify(header), tensors);
}

/** The elements an input's shape holds; a shape that is not a list of sizes is refused. */
function elementCount(shape: number[], path: string): number {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(
      `${path}.shape: [${shape.join(', ')}] is not a list of sizes, so its contents cannot be read`,
    );
  }
  return shape.reduce((product, d) => product * d, 1);
}

/**
 * Typed contents written once into the datatype's typed array, whose bytes are the extension's
 * (bytesOf: little-endian on every platform). Each value is checked as the pipeline checks a
 * JSON value of the datatype (src/shared/oip.ts, valueCheck), since binary values are not checked
 * there: a NaN or infinite float (which JSON carried as null) and an integer out of its
 * datatype's range (INT64 and UINT64 beyond 2^53, which protobufjs has already rounded) are
 * refused as before rather than wrapped or sent changed.
 */
function typedBytes(datatype: Numeric, input: InferInputTensor, elements: number, path: string): Buffer {
  const field = CONTENTS_FIELD[datatype];
  const { contents } = input;
  if (!contents) {
    throw invalid(
      `${path}.contents: missing; give the values in contents.${field}, or every input's bytes in raw_input_contents`,
    );
  }
  for (const [other, values] of Object.entries(contents)) {
    if (other !== field && Array.isArray(values) && values.length > 0) {
      throw invalid(`${path}.contents: ${datatype} values go in ${field}, not ${other}`);
    }
  }
  const values = (contents[field] as readonly unknown[] | undefined) ?? [];
  if (values.length !== elements) {
    throw invalid(
      `${path}.contents.${field}: ${values.length} values; shape [${input.shape.join(', ')}] takes ${elements}`,
    );
  }
  const fits = valueCheck(datatype);
  const wrong: string[] = [];
  for (const value of values) {
    if (!fits(value) && wrong.length < 3) wrong.push(String(value));
  }
  if (wrong.length > 0) {
    throw invalid(`${path}.contents.${field}: ${wrong.join(', ')} not ${datatype} values`);
  }
  const array = new ARRAY[datatype](elements);
  const target = array as unknown as unknown[];
  if (datatype === 'INT64' || datatype === 'UINT64') {
    for (let i = 0; i < elements; i++) target[i] = BigInt(values[i] as number);
  } else if (datatype === 'BOOL') {
    for (let i = 0; i < elements; i++) target[i] = values[i] ? 1 : 0;
  } else {
    for (let i = 0; i < elements; i++) target[i] = values[i];
  }
  return bytesOf(array);
}

/** Raw contents as they arrived, once their length is the one the shape and datatype take. */
function rawBytes(
  datatype: Numeric,
  input: InferInputTensor,
  bytes: Buffer,
  elements: number,
  path: string,
): Buffer {
  const given = Object.values(input.contents ?? {}).some(
    (values) => Array.isArray(values) && values.length > 0,
  );
  if (given) {
    throw invalid(`${path}.contents: given beside raw_input_contents; a request uses one or the other`);
  }
  const size = numericSize(datatype);
  const expected = elements * size;
  if (bytes.length !== expected) {
    throw invalid(
      `${path}: raw contents of ${bytes.length} bytes; shape [${input.shape.join(', ')}] of ${datatype} (${size} bytes each) takes ${expected}`,
    );
  }
  return bytes;
}

/**
 * A parameter map as the REST body's plain values. The binary tensor extension's parameters
 * (`binary_data_output`, `binary_data`, `binary_data_size`) are refused: they describe an HTTP
 * body's layout, which a message does not have (raw contents are gRPC's binary form), and the
 * front door sets them itself.
 */
function parametersOf(parameters: InferParameters, path: string): Record<string, unknown> {
  for (const key of Object.keys(parameters)) {
    if (key.startsWith('binary_data')) {
      throw invalid(
        `${path}.${key}: the binary tensor extension is HTTP's; over gRPC send raw_input_contents, which gets a raw answer`,
      );
    }
  }
  return restParameters(parameters).parameters ?? {};
}
