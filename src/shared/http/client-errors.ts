import {
  STATUS_CODES,
  maxHeaderSize,
  validateHeaderValue,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import { JSON_TYPE, type FastPathAnswer } from './answer.js';
import type { AnsweredRefusal, RefusalReason } from './refusal.js';

/** A `clientError`: llhttp's parse errors carry its code (`HPE_…`) and its reason in words. */
interface ClientError extends Error {
  code?: string;
  reason?: string;
}

export interface ClientErrorAnswers {
  /** The JSON answer to a refusal; `requestId` is '' here (no request was parsed). */
  refused(reason: AnsweredRefusal, detail: string, requestId: string): FastPathAnswer;
  onRefused?(reason: RefusalReason): void;
}

/**
 * Sorts a `clientError` as Node's own default answer does (lib/_http_server.js, socketOnError):
 * HPE_HEADER_OVERFLOW is 431, a timeout 408, any other parse error 400. Anything else (ECONNRESET,
 * EPIPE: the client went away) has no one to answer: undefined. `requestStarted`: the request's
 * head was complete and handed to a handler, so a timeout is the whole request's
 * (server.requestTimeout), not the head's (server.headersTimeout).
 */
export function classifyClientError(
  code: string | undefined,
  requestStarted: boolean,
): AnsweredRefusal | undefined {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return requestStarted ? 'request_timeout' : 'header_timeout';
  if (code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  if (code?.startsWith('HPE_')) return 'malformed';
  return undefined;
}

/**
 * Answers what Node's parser refuses (a malformed request, headers over `maxHeaderSize`) and the
 * requests it times out (server.headersTimeout, server.requestTimeout) with the server's own JSON
 * error and `connection: close`, where Node's default writes a plain-text 400, 431 or 408 with no
 * body. As Node's default and its docs for the `clientError` event say, an answer is written only
 * to a socket that is still writable and where no response was started (its bytes would corrupt
 * that response); otherwise, and after the answer is written, the socket is destroyed.
 */
export function answerClientErrors(server: Server, answers: ClientErrorAnswers): void {
  server.on('clientError', (error: ClientError, socket: Duplex) => {
    // Node's parser goes on reporting errors for the bytes that still arrive: answered once.
    if (socket.writableEnded) return;
    // The response Node attached to the socket for a request in flight (Node reads the same field).
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    const reason = classifyClientError(error.code, Boolean(inFlight));
    if (reason !== undefined) answers.onRefused?.(reason);
    if (reason === undefined || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const answer = answers.refused(reason, detailOf(reason, error, server), '');
    // Destroyed once written, not left half-open: what the client still sends is not read.
    socket.end(rawResponse(answer), () => socket.destroy());
  });
}

function detailOf(reason: AnsweredRefusal, error: ClientError, server: Server): string {
  switch (reason) {
    case 'header_timeout':
      return `the request head took longer than ${server.headersTimeout} ms`;
    case 'request_timeout':
      return `the request took longer than ${server.requestTimeout} ms`;
    case 'headers_too_large':
      return `over ${maxHeaderSize} bytes`; // the process's limit: the servers set none of their own
    default:
      return error.reason ?? error.code ?? 'parse error';
  }
}

/**
 * An answer as HTTP/1.1 bytes, for a socket that has no ServerResponse (a `clientError`): whole
 * (content-length), and closing the connection (RFC 9110 §15.5.9 asks that of a 408).
 */
export function rawResponse(answer: FastPathAnswer): string {
  const lines = [`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}`];
  for (const [name, value] of Object.entries(answer.headers ?? {})) {
    validateHeaderValue(name, value); // throws on CR/LF: never split the head
    lines.push(`${name}: ${value}`);
  }
  lines.push(
    `content-type: ${JSON_TYPE}`,
    `content-length: ${Buffer.byteLength(answer.json)}`,
    'connection: close',
    '',
    answer.json,
  );
  return lines.join('\r\n');
}
