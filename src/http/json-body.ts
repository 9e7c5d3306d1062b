import type { IncomingHttpHeaders } from 'node:http';
import { gatewayError } from '../errors.js';
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

/** A model request's body: JSON whatever the content type says; no body and no content type is no body. */
export function parseModelBody(text: string, headers: IncomingHttpHeaders, maxDepth: number): unknown {
  if (text === '' && headers['content-type'] === undefined) return undefined;
  return parseJsonBody(text, maxDepth);
}
