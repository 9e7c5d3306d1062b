import type { IncomingHttpHeaders } from 'node:http';
import { gatewayError } from '../errors.js';
import {
  BinaryBodyError,
  HEADER_LENGTH,
  attachBinary,
  binaryInputs,
  splitBody,
} from '../shared/binary-tensors.js';
import { jsonDepthExceeds } from '../shared/json-depth.js';

/**
 * A request body's JSON; the client's error (400) when it nests deeper than `maxDepth` or is not
 * JSON. The depth is checked on the text, before JSON.parse builds anything (src/shared/
 * json-depth.ts says why), so no stage, shadow or record builder ever walks a deeper value.
 * Plain JSON.parse: no stage merges a client object into another, so a "__proto__" key stays an
 * own property and pollutes nothing.
 */
export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (jsonDepthExceeds(text, maxDepth)) throw gatewayError('HTTP_JSON_TOO_DEEP', `${maxDepth} levels`);
  try {
    return JSON.parse(text);
  } catch {
    throw gatewayError('HTTP_MALFORMED_JSON');
  }
}

/**
 * A model request's body: JSON whatever the content type says; no body and no content type is no
 * body. With `Inference-Header-Content-Length` (Triton's binary tensor extension,
 * src/shared/binary-tensors.ts) the JSON is followed by the binary inputs' bytes: each is checked
 * against its own shape and datatype and the bytes after the JSON add up exactly, then attached
 * to its input object (attachBinary), never decoded here.
 */
export function parseModelBody(bytes: Buffer, headers: IncomingHttpHeaders, maxDepth: number): unknown {
  const headerLength = headers[HEADER_LENGTH];
  if (headerLength === undefined) {
    if (bytes.length === 0 && headers['content-type'] === undefined) return undefined;
    return parseJsonBody(bytes.toString(), maxDepth);
  }
  try {
    const { json, tensors } = splitBody(bytes, headerLength);
    const body = parseJsonBody(json.toString(), maxDepth);
    const slices = binaryInputs(body, tensors);
    if (slices) {
      const inputs = (body as { inputs: object[] }).inputs;
      slices.forEach((slice, index) => {
        if (slice) attachBinary(inputs[index]!, slice);
      });
    }
    return body;
  } catch (error) {
    if (error instanceof BinaryBodyError) throw gatewayError('HTTP_MALFORMED_BINARY', error.message);
    throw error;
  }
}
