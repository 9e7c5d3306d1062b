import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { gatewayError, type GatewayError } from '../errors.js';
import type { EndpointKind } from '../pipeline/stage.js';
import type { Logger } from '../shared/logger.js';
import { requestIdFrom } from './context.js';
import { readBody } from '../shared/http/read-body.js';
import { errorAnswer, type ModelAnswer, type ModelRequestHandler } from './model-request.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The model endpoints in their plain form (no escapes, no query string); the model name in the
 * characters the config allows for it. Anything else goes to Fastify, which decodes and answers
 * through the same handler.
 */
const MODEL_PATH =
  /^\/(?:v2\/models\/([\w.-]{1,128})\/infer|v1\/models\/([\w.-]{1,128}):predict|v1\/decisions\/([\w.-]{1,128}))$/;

export interface ModelServerOptions {
  handle: ModelRequestHandler;
  bodyLimit: number;
  /** Read per request: while draining, every response closes its connection. */
  draining(): boolean;
  logger: Logger;
  keepAliveTimeout: number;
}

/**
 * The gateway's node:http server. The three model endpoints are answered here, without Fastify:
 * measured under load, Fastify's request and reply objects, hooks, body parsing and serialisation
 * cost a sizeable share of the gateway's CPU per request, and these routes are the whole hot path.
 * Every other request (metadata, health, metrics, admin, unknown routes, model URLs in an unusual
 * form) goes to Fastify (`fastify`).
 */
export function createModelServer(
  fastify: (request: IncomingMessage, response: ServerResponse) => void,
  options: ModelServerOptions,
): Server {
  const { handle, bodyLimit, logger } = options;

  function modelRequest(
    request: IncomingMessage,
    response: ServerResponse,
    endpoint: EndpointKind,
    model: string,
  ): void {
    const receivedAt = performance.now();
    const fail = (error: GatewayError) => send(response, errorAnswer(error, requestIdFrom(request.headers)));
    const tooLarge = () =>
      answerThenLinger(
        request,
        response,
        errorAnswer(
          gatewayError('HTTP_BODY_TOO_LARGE', `over ${bodyLimit} bytes`),
          requestIdFrom(request.headers),
        ),
      );
    readBody(request, bodyLimit, {
      onTooLarge: tooLarge,
      onBody(text, bytes) {
        let body: unknown;
        if (bytes > 0 || request.headers['content-type'] !== undefined) {
          try {
            // Plain JSON.parse: no stage merges a client object into another, so a "__proto__" key
            // stays an own property and pollutes nothing.
            body = JSON.parse(text);
          } catch {
            fail(gatewayError('HTTP_MALFORMED_JSON'));
            return;
          }
        }
        // A failure in the handler or in writing its answer (a header Node refuses) is logged and
        // answered as an internal error, never left as an unhandled rejection.
        handle({ endpoint, model, headers: request.headers, body, receivedAt, log: logger })
          .then((answer) => send(response, answer))
          .catch((error: unknown) => {
            logger.error({ err: error }, 'request failed');
            fail(gatewayError('INTERNAL'));
          });
      },
    });
  }

  const server = createServer((request, response) => {
    if (options.draining()) response.setHeader('connection', 'close');
    if (request.method === 'POST') {
      const match = MODEL_PATH.exec(request.url!);
      if (match) {
        if (match[1] !== undefined) modelRequest(request, response, 'infer', match[1]);
        else if (match[2] !== undefined) modelRequest(request, response, 'predict', match[2]);
        else modelRequest(request, response, 'decision', match[3]!);
        return;
      }
    }
    fastify(request, response);
  });
  // Node's default (5 s) is shorter than the keep-alive of most clients' pools, which then race
  // a closing socket; 65 s outlasts the usual 60 s idle timeout of load balancers.
  server.keepAliveTimeout = options.keepAliveTimeout;
  return server;
}

/** How long, and how much more of a refused body, is read and dropped before the connection closes. */
const LINGER_MS = 2_000;
const LINGER_BYTES = 1 << 20;

/**
 * Answers a request whose body will not be read (413) and closes its connection, but like nginx's
 * lingering close, goes on reading and dropping what the client still sends for a moment first:
 * closing at once resets a connection the client is still writing to, and the client then sees
 * a broken pipe instead of the 413. The answer is whole (content-length) when written; ending the
 * response is what closes the connection, once the body has ended or the bound is reached.
 */
function answerThenLinger(request: IncomingMessage, response: ServerResponse, answer: ModelAnswer): void {
  answer.headers.connection = 'close';
  if (!writeHead(response, answer)) return;
  response.write(answer.json);
  let dropped = 0;
  const close = (): void => {
    clearTimeout(timer);
    request.off('data', drop).off('end', close).off('close', close);
    response.end();
  };
  const drop = (chunk: Buffer): void => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) close();
  };
  const timer = setTimeout(close, LINGER_MS);
  request.on('data', drop).once('end', close).once('close', close);
}

/** Writes the status and headers of `answer`; false when the response can no longer be written. */
function writeHead(response: ServerResponse, answer: ModelAnswer): boolean {
  if (response.headersSent || response.destroyed) return false;
  const headers: Record<string, string | number> = answer.headers;
  headers['content-type'] = JSON_TYPE;
  headers['content-length'] = Buffer.byteLength(answer.json);
  response.writeHead(answer.status, headers);
  return true;
}

function send(response: ServerResponse, answer: ModelAnswer): void {
  if (writeHead(response, answer)) response.end(answer.json);
}
