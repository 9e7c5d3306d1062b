import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readBody } from '../../src/shared/http/read-body.js';
import type { Logger } from '../../src/shared/logger.js';
import { RuntimeError } from './errors.js';
import type { Infer, InferReply } from './infer.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/** The infer URLs in their plain form; names are limited as the repository's config limits them. */
const INFER_PATH = /^\/v2\/models\/([\w.-]{1,100})\/(?:versions\/([\w.-]{1,100})\/)?infer$/;

export interface RuntimeServerOptions {
  infer: Infer;
  bodyLimit: number;
  /** Read per request: while draining, every response closes its connection. */
  draining(): boolean;
  logger: Logger;
  /** Fastify's settings for the server it would have made itself. */
  keepAliveTimeout: number;
  requestTimeout: number;
  connectionTimeout: number;
}

/**
 * The runtime's node:http server. `POST /v2/models/<model>[/versions/<v>]/infer` is answered here
 * directly: measured under load, Fastify's routing, request and reply objects, hooks, body parser
 * and serializer cost more per request than all the runtime's own work, and the infer route is the
 * only one on the hot path. Every other request goes to Fastify (`fastify`), and so does an infer
 * URL in an unusual form (escaped characters, a query string), which Fastify answers through the
 * same `infer`.
 */
export function createRuntimeServer(
  fastify: (request: IncomingMessage, response: ServerResponse) => void,
  options: RuntimeServerOptions,
): Server {
  const { infer, bodyLimit } = options;

  function inferRequest(request: IncomingMessage, response: ServerResponse, match: RegExpExecArray): void {
    const model = match[1]!;
    const version = match[2];
    const reply = new HttpReply(response, options);
    readBody(request, bodyLimit, {
      onTooLarge: () => reply.fail(new RuntimeError(413, 'request body too large')),
      onBody(text) {
        let body: unknown;
        try {
          body = parseBody(text);
        } catch (error) {
          reply.fail(error);
          return;
        }
        infer(model, version, body, request.headers, reply);
      },
    });
  }

  const server = createServer((request, response) => {
    // The connection closes after this response, so clients stop reusing it.
    if (options.draining()) response.setHeader('connection', 'close');
    if (request.method === 'POST') {
      const match = INFER_PATH.exec(request.url!);
      if (match) {
        inferRequest(request, response, match);
        return;
      }
    }
    fastify(request, response);
  });
  server.keepAliveTimeout = options.keepAliveTimeout;
  server.requestTimeout = options.requestTimeout;
  server.setTimeout(options.connectionTimeout);
  return server;
}

/** An infer request's way back to its client. */
class HttpReply implements InferReply {
  constructor(
    private readonly response: ServerResponse,
    private readonly options: Pick<RuntimeServerOptions, 'bodyLimit' | 'logger'>,
  ) {}

  answer(json: string, serverTiming: string): void {
    send(this.response, 200, json, serverTiming);
  }

  fail(error: unknown): void {
    const { status, message } = errorResponse(error, this.options.bodyLimit);
    if (status >= 500 && !(error instanceof RuntimeError))
      this.options.logger.error({ err: error }, 'request failed');
    send(this.response, status, JSON.stringify({ error: message }));
  }
}

function send(response: ServerResponse, status: number, json: string, serverTiming?: string): void {
  const headers: Record<string, string | number> = {
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(json),
  };
  if (serverTiming !== undefined) headers['server-timing'] = serverTiming;
  response.writeHead(status, headers);
  response.end(json);
}

/**
 * Request bodies are JSON whatever their content type says (OIP clients do not all send one);
 * an empty body is no body. JSON.parse leaves a `__proto__` key an own property, and the runtime
 * only reads fields out of the body, never merges it into another object.
 */
export function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RuntimeError(400, 'request body is not valid JSON', { cause: error });
  }
}

/** The status and `{"error"}` message of a failed request, from Fastify's route or the infer path. */
export function errorResponse(error: unknown, bodyLimit: number): { status: number; message: string } {
  const status =
    error instanceof RuntimeError ? error.status : ((error as { statusCode?: number }).statusCode ?? 500);
  const message =
    status === 413
      ? `request body is larger than the limit of ${bodyLimit} bytes`
      : error instanceof Error
        ? error.message
        : String(error);
  return { status, message };
}
