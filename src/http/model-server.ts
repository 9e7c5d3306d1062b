import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { GatewayError, gatewayError, type ErrorName } from '../errors.js';
import type { EndpointKind } from '../pipeline/stage.js';
import type { FastPathAnswer } from '../shared/http/answer.js';
import { bodyProblemError } from './body-problem.js';
import type { ClientLimits } from '../shared/http/client-limits.js';
import { createFastPathServer } from '../shared/http/fast-path-server.js';
import type { AnsweredRefusal, RefusalReason } from '../shared/http/refusal.js';
import type { Logger } from '../shared/logger.js';
import { requestIdFrom } from './context.js';
import { errorParts, errorShapeOfUrl } from './error-shape.js';
import { errorAnswer, type ModelRequestHandler } from './model-request.js';

/**
 * The model endpoints in their plain form (no escapes, no query string); the model name in the
 * characters the config allows for it. Anything else goes to Fastify, which decodes and answers
 * through the same handler.
 */
const MODEL_PATH =
  /^\/(?:v2\/models\/([\w.-]{1,128})(?:\/versions\/([\w.-]{1,128}))?\/infer|v1\/models\/([\w.-]{1,128}):predict|v1\/decisions\/([\w.-]{1,128}))$/;

export interface ModelServerOptions {
  handle: ModelRequestHandler;
  /** The largest body of a request for `model` (its own limit, or the gateway's). */
  bodyLimitOf(model: string): number;
  /** The largest body of any other request (`limits.body_bytes`). */
  bodyLimit: number;
  /** Read per request: while draining, every response closes its connection. */
  draining(): boolean;
  logger: Logger;
  keepAliveTimeout: number;
  clientLimits: ClientLimits;
  onRefused(reason: RefusalReason): void;
}

/** The code of each request the server refuses before a handler answers it. */
const REFUSAL_ERRORS: Record<AnsweredRefusal, ErrorName> = {
  malformed: 'HTTP_MALFORMED_REQUEST',
  headers_too_large: 'HTTP_HEADERS_TOO_LARGE',
  header_timeout: 'HTTP_REQUEST_TIMEOUT',
  request_timeout: 'HTTP_REQUEST_TIMEOUT',
  body_timeout: 'HTTP_REQUEST_TIMEOUT',
};

function refusalAnswer(
  reason: AnsweredRefusal,
  detail: string,
  requestId: string,
  url: string | undefined,
): FastPathAnswer {
  const error = gatewayError(REFUSAL_ERRORS[reason], detail);
  // Without a parsed request there is no request id to give back, nor a URL to shape the body
  // by: the gateway's own shape then.
  const shape = url === undefined ? 'switchyard' : errorShapeOfUrl(url);
  if (requestId !== '') return errorAnswer(error, requestId, shape);
  const { json, headers } = errorParts(error, shape);
  return { status: error.status, headers, json };
}

/**
 * The gateway's node:http server: the three model endpoints on the shared fast path
 * (src/shared/http/fast-path-server.ts), everything else (metadata, health, metrics, admin,
 * unknown routes, model URLs in an unusual form) to Fastify (`fastify`). Each request's id is
 * decided here, once, on arrival: its error answers, log line and prediction record carry it.
 */
export function createModelServer(
  fastify: (request: IncomingMessage, response: ServerResponse) => void,
  options: ModelServerOptions,
): Server {
  const { handle, bodyLimit, logger } = options;
  return createFastPathServer(fastify, {
    routes: [
      {
        path: MODEL_PATH,
        bodyLimit: (match) => options.bodyLimitOf(match[1] ?? match[3] ?? match[4]!),
        handle({ match, headers, body, receivedAt, requestId }, reply) {
          let endpoint: EndpointKind = 'decision';
          let model = match[4]!;
          if (match[1] !== undefined) [endpoint, model] = ['infer', match[1]];
          else if (match[3] !== undefined) [endpoint, model] = ['predict', match[3]];
          // The version an infer URL pins, if any (OIP REST: v2/models/<m>[/versions/<v>]/infer).
          const version = match[2];
          // `body` is the bytes as they came (parse below): the handler parses them.
          const request = { endpoint, model, headers, body: body as Buffer, receivedAt, requestId };
          handle(version === undefined ? request : { ...request, version }).then(
            (answer) => reply.send(answer),
            (error: unknown) => reply.fail(error),
          );
        },
      },
    ],
    bodyLimit,
    // The handler parses the body (src/http/json-body.ts), so that one refused as JSON is logged
    // and recorded like any refused request: the bytes go to it as they came (JSON, or JSON and
    // binary tensors).
    parse: (bytes) => bytes,
    // A failure in the handler or in writing its answer is logged and answered as an internal
    // error; a GatewayError is the client's and answered as itself.
    failure: (error, requestId, url) =>
      error instanceof GatewayError
        ? { answer: errorAnswer(error, requestId, errorShapeOfUrl(url)), unexpected: false }
        : {
            answer: errorAnswer(gatewayError('INTERNAL'), requestId, errorShapeOfUrl(url)),
            unexpected: true,
          },
    tooLarge: (requestId, limit, url) =>
      errorAnswer(
        gatewayError('HTTP_BODY_TOO_LARGE', `over ${limit} bytes`),
        requestId,
        errorShapeOfUrl(url),
      ),
    undecodable: (problem, requestId, url) =>
      errorAnswer(bodyProblemError(problem), requestId, errorShapeOfUrl(url)),
    lingerOnTooLarge: true,
    requestId: requestIdFrom,
    draining: options.draining,
    logger,
    keepAliveTimeout: options.keepAliveTimeout,
    clientLimits: options.clientLimits,
    refused: refusalAnswer,
    onRefused: options.onRefused,
  });
}
