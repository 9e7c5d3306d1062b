import type { IncomingHttpHeaders } from 'node:http';
import { BinaryBodyError, HEADER_LENGTH, binaryInputs, splitBody } from '../../src/shared/binary-tensors.js';
import { jsonDepthExceeds } from '../../src/shared/json-depth.js';
import { RuntimeError, badRequest } from './errors.js';

/** An infer request's body: its JSON, and the bytes of the inputs given in binary. */
export interface InferBody {
  /** The parsed JSON object (undefined for an empty body). */
  request: unknown;
  /**
   * Each input's bytes by its index in `inputs` (the binary tensor extension,
   * src/shared/binary-tensors.ts), undefined for one given as JSON; undefined when none is binary.
   */
  binary: readonly (Buffer | undefined)[] | undefined;
}

/**
 * Parses an infer body, JSON or JSON followed by binary tensors: the JSON's length is
 * `Inference-Header-Content-Length`, and every binary input's size is checked against its own
 * shape and datatype here, before the model is looked up (the model's checks follow in
 * tensors.ts). The tensors' bytes are never turned into JS values.
 */
export function parseInferBody(bytes: Buffer, headers: IncomingHttpHeaders, jsonDepth: number): InferBody {
  try {
    const { json, tensors } = splitBody(bytes, headers[HEADER_LENGTH]);
    const request = parseBody(json.toString(), jsonDepth);
    return { request, binary: binaryInputs(request, tensors) };
  } catch (error) {
    if (error instanceof BinaryBodyError) throw badRequest(error.message);
    throw error;
  }
}

/**
 * Request bodies are JSON whatever their content type says (OIP clients do not all send one);
 * an empty body is no body. One nesting arrays and objects deeper than `maxDepth` is refused
 * before it is parsed, as the gateway does (src/shared/json-depth.ts says why): no tensor check
 * then walks it. JSON.parse leaves a `__proto__` key an own property, and the runtime only reads
 * fields out of the body, never merges it into another object.
 */
export function parseBody(text: string, maxDepth: number): unknown {
  if (text === '') return undefined;
  if (jsonDepthExceeds(text, maxDepth)) {
    throw new RuntimeError(400, `request body nests arrays and objects deeper than ${maxDepth} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RuntimeError(400, 'request body is not valid JSON', { cause: error });
  }
}
