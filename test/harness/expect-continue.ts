import { setTimeout as sleep } from 'node:timers/promises';
import { openSocket, parseRawResponse, type RawResponse } from './raw-http.js';

/** What a client that sends `Expect: 100-continue` saw (RFC 9110 §10.1.1). */
export interface ContinueExchange {
  /** The server answered 100 Continue before anything else. */
  continued: boolean;
  /** Body bytes written: none unless the server sent its 100 first. */
  bodyBytesSent: number;
  /** The final answer (after the 100, when one came). */
  final: RawResponse | undefined;
  /** The server closed the connection within the wait. */
  closed: boolean;
}

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Sends a request's head with `Expect: 100-continue` and `content-length: body.length`, and
 * writes the body only once the server has answered 100 Continue, as a careful client does (curl
 * and Python's requests wait at most a second: this one waits up to `waitMs`, so a server that
 * answers nothing shows as no answer, not as a body sent anyway). Bounded: at most twice `waitMs`.
 */
export async function sendExpectingContinue(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  waitMs = 5_000,
): Promise<ContinueExchange> {
  const socket = await openSocket(url);
  let text = '';
  let closed = false;
  socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
  socket.once('close', () => (closed = true));
  const lines = Object.entries({ host: '127.0.0.1', ...headers, 'content-length': String(body.length) })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(`POST ${path} HTTP/1.1\r\n${lines}expect: 100-continue\r\n\r\n`);
  const until = async (done: () => boolean): Promise<void> => {
    for (const deadline = Date.now() + waitMs; !done() && !closed && Date.now() < deadline;) await sleep(5);
  };
  await until(() => text.includes('\r\n\r\n'));
  const continued = text.startsWith(CONTINUE);
  let bodyBytesSent = 0;
  if (continued) {
    text = text.slice(CONTINUE.length);
    socket.write(body);
    bodyBytesSent = body.length;
  }
  await until(() => isWhole(text));
  const final = parseRawResponse(text);
  // A refused request's connection closes: give it a moment to.
  if (final?.headers.connection === 'close') await until(() => closed);
  socket.destroy();
  return { continued, bodyBytesSent, final, closed };
}

function isWhole(text: string): boolean {
  const response = parseRawResponse(text);
  return (
    response !== undefined &&
    Buffer.byteLength(response.body, 'latin1') >= Number(response.headers['content-length'] ?? 0)
  );
}
