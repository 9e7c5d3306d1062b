import { ERROR_CODE_HEADER, errorBody, type ErrorShape, type GatewayError } from '../errors.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EndpointKind } from '../pipeline/stage.js';
import { JSON_TYPE } from '../shared/http/fast-path-server.js';

/**
 * The protocol routes: the Open Inference Protocol's (`/v2`, `/v2/...`) and KServe v1's
 * (`/v1/models`, `/v1/models/...`, `/v1/models/m:predict`), as the URL came (query string or not).
 */
const PROTOCOL_PATH = /^\/(?:v2(?:[/?]|$)|v1\/models(?:[/:?]|$))/;

/** The shape of an error answered on `url` (src/errors.ts, ErrorShape). */
export function errorShapeOfUrl(url: string): ErrorShape {
  return PROTOCOL_PATH.test(url) ? 'protocol' : 'switchyard';
}

/** The shape of an error answered on a model endpoint: the decision API keeps its own. */
export function errorShapeOf(endpoint: EndpointKind): ErrorShape {
  return endpoint === 'decision' ? 'switchyard' : 'protocol';
}

/** An error's body as JSON text and the headers every error answer carries. */
export function errorParts(
  error: GatewayError,
  shape: ErrorShape,
): { json: string; headers: Record<string, string> } {
  return {
    json: JSON.stringify(errorBody(error, shape)),
    headers: { ...error.extra.headers, [ERROR_CODE_HEADER]: error.code },
  };
}

/** Answers `error` on a Fastify route in the shape its URL calls for, with the request's id. */
export function sendError(reply: FastifyReply, error: GatewayError, request: FastifyRequest): FastifyReply {
  const { json, headers } = errorParts(error, errorShapeOfUrl(request.url));
  return reply
    .code(error.status)
    .headers(headers)
    .header('x-request-id', request.id)
    .type(JSON_TYPE)
    .send(json);
}
