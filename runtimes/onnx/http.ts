import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  createFastPathServer,
  type FastPathAnswer,
  type FastPathReply,
} from '../../src/shared/http/fast-path-server.js';
import { BodyProblem } from '../../src/shared/http/body-problem.js';
import type { ClientLimits } from '../../src/shared/http/client-limits.js';
import type { AnsweredRefusal, RefusalReason } from '../../src/shared/http/refusal.js';
import type { Logger } from '../../src/shared/logger.js';
import { BINARY_TYPE, HEADER_LENGTH, binaryBody } from '../../src/shared/binary-tensors.js';
import { parseInferBody, type InferBody } from './body.js';
import { RuntimeError } from './errors.js';
import { jsonAnswer, type HttpAnswer, type Infer, type InferAnswer, type InferReply } from './infer.js';

const REFUSAL_STATUS: Record<AnsweredRefusal, number> = {
  malformed: 400,
  headers_too_large: 431,
  header_timeout: 408,
  request_timeout: 408,
  body_timeout: 408,
};

const REFUSAL_MESSAGE: Record<AnsweredRefusal, string> = {
  malformed: 'request is not valid HTTP/1.1',
  headers_too_large: 'request headers are larger than the limit',
  header_timeout: 'request headers did not arrive in time',
  request_timeout: 'request did not arrive in time',
  body_timeout: 'request body did not arrive in time',
};

/** The infer URLs in their plain form; names are limited as the repository's config limits them. */
const INFER_PATH = /^\/v2\/models\/([\w.-]{1,100})\/(?:versions\/([\w.-]{1,100})\/)?infer$/;

export interface RuntimeServerOptions {
  infer: Infer;
  bodyLimit: number;
  /** Bodies nesting arrays and objects deeper are refused with 400 before they are parsed. */
  jsonDepth: number;
  /** Read per request: while draining, every response closes its connection. */
  draining(): boolean;
  logger: Logger;
  /** Fastify's settings for the server it would have made itself. */
  keepAliveTimeout: number;
  connectionTimeout: number;
  clientLimits: ClientLimits;
  onRefused(reason: RefusalReason): void;
}

/**
 * The runtime's node:http server: `POST /v2/models/<model>[/versions/<v>]/infer` on the shared
 * fast path (src/shared/http/fast-path-server.ts), the only route on the hot path. Every other
 * request goes to Fastify (`fastify`), and so does an infer URL in an unusual form (escaped
 * characters, a query string), which Fastify answers through the same `infer`.
 */
export function createRuntimeServer(
  fastify: (request: IncomingMessage, response: ServerResponse) => void,
  options: RuntimeServerOptions,
): Server {
  const { infer, bodyLimit, jsonDepth } = options;
  return createFastPathServer(fastify, {
    routes: [
      {
        path: INFER_PATH,
        handle({ match, headers, body }, reply) {
          infer(match[1]!, match[2], body as InferBody, headers, new HttpInferReply(reply));
        },
      },
    ],
    bodyLimit,
    parse: (bytes, headers) => parseInferBody(bytes, headers, jsonDepth),
    failure(error) {
      const { status, message } = errorResponse(error, bodyLimit);
      return {
        answer: errorAnswer(status, message),
        unexpected: status >= 500 && !(error instanceof RuntimeError),
      };
    },
    tooLarge: (_requestId, limit) => errorAnswer(413, tooLargeMessage(limit)),
    undecodable: (problem) => errorAnswer(problem.statusCode, bodyProblemMessage(problem)),
    lingerOnTooLarge: false,
    draining: options.draining,
    logger: options.logger,
    keepAliveTimeout: options.keepAliveTimeout,
    connectionTimeout: options.connectionTimeout,
    clientLimits: options.clientLimits,
    // The protocol's error body, with the status Node's own answer would have had.
    refused: (reason, detail) => errorAnswer(REFUSAL_STATUS[reason], `${REFUSAL_MESSAGE[reason]}: ${detail}`),
    onRefused: options.onRefused,
  });
}

/** An infer request's way back to its client. */
class HttpInferReply implements InferReply<HttpAnswer> {
  constructor(private readonly reply: FastPathReply) {}

  encode(answer: InferAnswer): HttpAnswer {
    return jsonAnswer(answer);
  }

  answer({ json, tensors }: HttpAnswer, serverTiming: string): void {
    if (tensors === undefined) {
      this.reply.send({ status: 200, headers: { 'server-timing': serverTiming }, json });
      return;
    }
    const { body, headerLength } = binaryBody(json, tensors);
    this.reply.send({
      status: 200,
      headers: { 'server-timing': serverTiming, [HEADER_LENGTH]: String(headerLength) },
      json: '',
      bytes: { body, type: BINARY_TYPE },
    });
  }

  fail(error: unknown): void {
    this.reply.fail(error);
  }
}

function errorAnswer(status: number, message: string): FastPathAnswer {
  return { status, json: JSON.stringify({ error: message }) };
}

/** The status and `{"error"}` message of a failed request, from Fastify's route or the infer path. */
export function errorResponse(error: unknown, bodyLimit: number): { status: number; message: string } {
  if (error instanceof BodyProblem) return { status: error.statusCode, message: bodyProblemMessage(error) };
  const status =
    error instanceof RuntimeError ? error.status : ((error as { statusCode?: number }).statusCode ?? 500);
  const message =
    status === 413 ? tooLargeMessage(bodyLimit) : error instanceof Error ? error.message : String(error);
  return { status, message };
}

const tooLargeMessage = (bodyLimit: number): string =>
  `request body is larger than the limit of ${bodyLimit} bytes`;

/** A body refused before it was parsed (src/shared/http/body-problem.ts), in the runtime's words. */
function bodyProblemMessage(problem: BodyProblem): string {
  switch (problem.kind) {
    case 'too_large':
      return tooLargeMessage(problem.limit);
    case 'unsupported_encoding':
      return `request body's content-encoding is not supported: ${problem.detail}`;
    case 'malformed_encoding':
      return `request body does not decode in its content-encoding: ${problem.detail}`;
  }
}
