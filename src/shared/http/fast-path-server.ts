import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.js';
import { acceptsGzip, gzipAnswer, GZIP_MIN_BYTES } from './answer-encoding.js';
import type { BodyProblem } from './body-problem.js';
import { bodyCodingOf } from './decode-body.js';
import { readBody } from './read-body.js';

import { JSON_TYPE, type FastPathAnswer } from './answer.js';
import { answerClientErrors } from './client-errors.js';
import { watchBodyPace } from './body-pace.js';
import { capConnections, requestTimeoutOptions, type ClientLimits } from './client-limits.js';
import type { AnsweredRefusal, RefusalReason } from './refusal.js';

export { JSON_TYPE, type FastPathAnswer };

/** One request on a hot route, once its body is read and parsed. */
export interface FastPathRequest {
  /** The route's match on the URL: its groups carry the path's parameters. */
  match: RegExpExecArray;
  headers: IncomingHttpHeaders;
  /** The parsed body, as the server's `parse` made it. */
  body: unknown;
  /** performance.now() when the request arrived. */
  receivedAt: number;
  /** Decided once, when the request arrived (the server's `requestId`); '' without one. */
  requestId: string;
}

/** How a hot route answers: exactly one call, once. */
export interface FastPathReply {
  send(answer: FastPathAnswer): void;
  /** Answered as the server's `failure` says; logged when it says the failure was unexpected. */
  fail(error: unknown): void;
}

export interface FastPathRoute {
  /** Matched against the URL of a POST as it came (no decoding): anything else goes to `fallback`. */
  path: RegExp;
  /** The largest body this request may send (its model's limit, say); without it, the server's `bodyLimit`. */
  bodyLimit?(match: RegExpExecArray): number;
  handle(request: FastPathRequest, reply: FastPathReply): void;
}

export interface FastPathServerOptions {
  routes: readonly FastPathRoute[];
  /**
   * The largest body of a hot route without a limit of its own, and the one a request for
   * `fallback` that expects 100-continue is held to before it gets its 100 (the fallback reads and
   * limits the bodies it takes itself).
   */
  bodyLimit: number;
  /**
   * Parses a body (throws when it is not acceptable); `body` is empty when there was none. Bytes,
   * not text: a body need not be all JSON (the binary tensor extension) nor arrive as it is read.
   */
  parse(body: Buffer, headers: IncomingHttpHeaders): unknown;
  /**
   * The answer to a thrown or failed request; `unexpected` ones are logged with their error. `url`
   * is the request's, as it came: the answer's shape may depend on the route (the gateway's).
   */
  failure(error: unknown, requestId: string, url: string): { answer: FastPathAnswer; unexpected: boolean };
  /** The answer to a body over `limit` (the route's, or `bodyLimit`), decoded or not. */
  tooLarge(requestId: string, limit: number, url: string): FastPathAnswer;
  /** The answer to a body in a content coding not decoded here (415), or one that does not decode (400). */
  undecodable(problem: BodyProblem, requestId: string, url: string): FastPathAnswer;
  /**
   * After those answers, close the connection, but read and drop what the client still sends for a
   * moment first (answerThenLinger); without it the connection stays open.
   */
  lingerOnTooLarge: boolean;
  /** The request's id, worked out once on arrival; without it requests carry ''. */
  requestId?: (headers: IncomingHttpHeaders) => string;
  /** Read per request: while draining, every response closes its connection. */
  draining(): boolean;
  logger: Logger;
  keepAliveTimeout: number;
  /** The socket's idle timeout (Fastify's connectionTimeout). */
  connectionTimeout?: number;
  /** Slow clients and the connection cap (client-limits.ts), on every route, hot or not. */
  clientLimits: ClientLimits;
  /**
   * The answer to a request refused before a handler answered it: one Node's parser rejects, one
   * whose head or body arrives too slowly. `requestId` is '' and `url` undefined when no request
   * was parsed.
   */
  refused(reason: AnsweredRefusal, detail: string, requestId: string, url?: string): FastPathAnswer;
  /** Counts every refusal, connections dropped over the cap included. */
  onRefused?(reason: RefusalReason): void;
}

const noRequestId = (): string => '';

/**
 * A node:http server for the few hot POST routes of a process, answered without a framework:
 * measured under load, Fastify's routing, request and reply objects, hooks, body parsing and
 * serialisation cost more per request than the gateway's or the runtime's own work on these
 * routes. Everything else (and a hot URL in an unusual form: escaped characters, a query string)
 * goes to `fallback`, the process's Fastify, which answers it through the same handlers.
 *
 * The gateway serves its three model routes through it (src/http/model-server.ts), the runtime its
 * infer route (runtimes/onnx/http.ts).
 */
export function createFastPathServer(
  fallback: (request: IncomingMessage, response: ServerResponse) => void,
  options: FastPathServerOptions,
): Server {
  const { routes, bodyLimit, parse } = options;
  const requestIdOf = options.requestId ?? noRequestId;

  function hotRequest(
    request: IncomingMessage,
    response: ServerResponse,
    route: FastPathRoute,
    match: RegExpExecArray,
  ): void {
    const receivedAt = performance.now();
    const requestId = requestIdOf(request.headers);
    const url = request.url!;
    const reply = new Reply(response, requestId, url, options);
    const limit = route.bodyLimit ? route.bodyLimit(match) : bodyLimit;
    const refuse = (answer: FastPathAnswer): void => {
      if (options.lingerOnTooLarge) answerThenLinger(request, response, answer);
      else send(response, answer);
    };
    readBody(request, limit, {
      onTooLarge: () => refuse(options.tooLarge(requestId, limit, url)),
      onUndecodable: (problem) => refuse(options.undecodable(problem, requestId, url)),
      onBody(bytes) {
        let body: unknown;
        try {
          body = parse(bytes, request.headers);
        } catch (error) {
          reply.fail(error);
          return;
        }
        try {
          route.handle({ match, headers: request.headers, body, receivedAt, requestId }, reply);
        } catch (error) {
          reply.fail(error);
        }
      },
    });
  }

  const { clientLimits } = options;
  const timeouts = requestTimeoutOptions(clientLimits);
  const server = createServer(timeouts, onRequest);
  function onRequest(request: IncomingMessage, response: ServerResponse): void {
    watchBody(request, response);
    if (options.draining()) response.setHeader('connection', 'close');
    if (request.method === 'POST') {
      for (const route of routes) {
        const match = route.path.exec(request.url!);
        if (match) {
          hotRequest(request, response, route, match);
          return;
        }
      }
    }
    fallback(request, response);
  }

  // RFC 9110 §10.1.1: a client that sends `Expect: 100-continue` waits for the 100 before it
  // sends its body, so a body declared too large is refused before a byte of it travels. Node
  // sends the 100 itself unless the server listens for 'checkContinue' (which then replaces
  // 'request' for these requests): answered here, 413 (or 415 for a coding not decoded here) and
  // close, without the 100.
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    const limit = continueLimit(request);
    const coding = request.headers['content-encoding'];
    const unsupported = coding === undefined ? undefined : bodyCodingOf(coding, limit);
    let answer: FastPathAnswer | undefined;
    if (Number(request.headers['content-length']) > limit)
      answer = options.tooLarge(requestIdOf(request.headers), limit, request.url!);
    else if (typeof unsupported === 'object')
      answer = options.undecodable(unsupported, requestIdOf(request.headers), request.url!);
    if (answer) {
      (answer.headers ??= {}).connection = 'close';
      send(response, answer);
      return;
    }
    response.writeContinue();
    onRequest(request, response);
  });
  function continueLimit(request: IncomingMessage): number {
    if (request.method === 'POST') {
      for (const route of routes) {
        const match = route.path.exec(request.url!);
        if (match) return route.bodyLimit ? route.bodyLimit(match) : bodyLimit;
      }
    }
    return bodyLimit;
  }
  // Node's default (5 s) is shorter than the keep-alive of most clients' pools, which then race
  // a closing socket; the callers' 65 s outlasts the usual 60 s idle timeout of load balancers.
  const watchBody = watchBodyPace(server, clientLimits.bodyTimeoutMs, bodyStalled);
  server.keepAliveTimeout = options.keepAliveTimeout;
  if (options.connectionTimeout !== undefined) server.setTimeout(options.connectionTimeout);
  answerClientErrors(server, options);
  capConnections(server, clientLimits.maxConnections, () => options.onRefused?.('connection_cap'));
  return server;

  /** 408 and close, unless an answer was started: then only close. */
  function bodyStalled(request: IncomingMessage, response: ServerResponse): void {
    options.onRefused?.('body_timeout');
    if (response.headersSent) {
      request.socket.destroy();
      return;
    }
    const detail = `no byte of the body for ${clientLimits.bodyTimeoutMs} ms`;
    const answer = options.refused('body_timeout', detail, requestIdOf(request.headers), request.url);
    (answer.headers ??= {}).connection = 'close';
    send(response, answer);
  }
}

/** A hot request's way back to its client. */
class Reply implements FastPathReply {
  constructor(
    private readonly response: ServerResponse,
    private readonly requestId: string,
    private readonly url: string,
    private readonly options: Pick<FastPathServerOptions, 'failure' | 'logger'>,
  ) {}

  send(answer: FastPathAnswer): void {
    // The length in characters is at most the length in bytes: an answer shorter than the
    // threshold (the fraud decision) costs this comparison and nothing else.
    if ((answer.bytes === undefined ? answer.json.length : answer.bytes.body.length) >= GZIP_MIN_BYTES) {
      this.sendLarge(answer);
      return;
    }
    // A failure in writing the answer (a header Node refuses) is logged and answered as the
    // server's failure says, never thrown into the caller's callback or left unhandled.
    try {
      send(this.response, answer);
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * An answer large enough to be worth compressing: gzipped when the client accepts it, and
   * either way marked as varying with Accept-Encoding (RFC 9110 §12.5.5), since a client that
   * asks otherwise gets other bytes.
   */
  private sendLarge(answer: FastPathAnswer): void {
    const headers = (answer.headers ??= {});
    headers.vary = 'Accept-Encoding';
    if (!acceptsGzip(this.response.req.headers['accept-encoding'])) {
      this.sendNow(answer, bodyOf(answer));
      return;
    }
    gzipAnswer(bodyOf(answer)).then(
      (gzipped) => {
        headers['content-encoding'] = 'gzip';
        this.sendNow(answer, gzipped);
      },
      (error: unknown) => this.fail(error),
    );
  }

  private sendNow(answer: FastPathAnswer, body: string | Buffer): void {
    try {
      if (writeHead(this.response, answer, body)) this.response.end(body);
    } catch (error) {
      this.fail(error);
    }
  }

  fail(error: unknown): void {
    const { answer, unexpected } = this.options.failure(error, this.requestId, this.url);
    if (unexpected) this.options.logger.error({ err: error }, 'request failed');
    send(this.response, answer);
  }
}

/**
 * Writes the status and headers of `answer`, whose body is `body` (its JSON, or that coded);
 * false when the response can no longer be written.
 */
function writeHead(
  response: ServerResponse,
  answer: FastPathAnswer,
  body: string | Buffer = bodyOf(answer),
): boolean {
  if (response.headersSent || response.destroyed) return false;
  // The answer's own object, not a copy: it is not used again, and this is every request's path.
  const headers: Record<string, string | number> = answer.headers ?? {};
  headers['content-type'] = answer.bytes === undefined ? JSON_TYPE : answer.bytes.type;
  headers['content-length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  response.writeHead(answer.status, headers);
  return true;
}

/** What goes on the wire before any content coding: the JSON text, or the binary extension's body. */
function bodyOf(answer: FastPathAnswer): string | Buffer {
  return answer.bytes === undefined ? answer.json : answer.bytes.body;
}

function send(response: ServerResponse, answer: FastPathAnswer): void {
  if (writeHead(response, answer)) response.end(bodyOf(answer));
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
function answerThenLinger(request: IncomingMessage, response: ServerResponse, answer: FastPathAnswer): void {
  (answer.headers ??= {}).connection = 'close';
  if (!writeHead(response, answer)) return;
  response.write(bodyOf(answer));
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
