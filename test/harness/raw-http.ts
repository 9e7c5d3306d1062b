import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * HTTP/1.1 over a bare TCP socket, for what an HTTP client library will not send: a request that
 * arrives a byte at a time, one that pauses, one that is not valid HTTP at all.
 */

/** What the server made of a request written in pieces. */
export interface RawExchange {
  /** Everything the server sent, as text. */
  received: string;
  /** How many of the pieces were written before the server closed the connection. */
  written: number;
  /** The server closed the connection while pieces were still to be written. */
  closedEarly: boolean;
  /** The server closed the connection (early or after the last piece), within the wait. */
  closed: boolean;
}

/** A loopback connection to the server at `url` (http://127.0.0.1:PORT), once connected. */
export async function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve).once('error', reject);
  });
  socket.on('error', () => {}); // a reset is one of the outcomes these tests look at, not a failure
  return socket;
}

/**
 * Writes `pieces` one every `gapMs` (the first at once), stops when the server closes the
 * connection, and then waits up to `tailMs` for the rest of the server's answer and its close.
 * Bounded: at most pieces × gapMs + tailMs.
 */
export async function trickle(
  url: string,
  pieces: readonly string[],
  gapMs: number,
  tailMs: number,
): Promise<RawExchange> {
  const socket = await openSocket(url);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  let written = 0;
  for (const piece of pieces) {
    if (isClosed) break;
    if (written > 0) await Promise.race([sleep(gapMs), closed]);
    if (isClosed) break;
    socket.write(piece);
    written++;
  }
  const closedEarly = isClosed && written < pieces.length;
  await Promise.race([closed, sleep(tailMs)]);
  socket.destroy();
  return { received: Buffer.concat(chunks).toString(), written, closedEarly, closed: isClosed };
}

/** A text split into pieces of `size` characters. */
export function piecesOf(text: string, size = 1): string[] {
  const pieces: string[] = [];
  for (let at = 0; at < text.length; at += size) pieces.push(text.slice(at, at + size));
  return pieces;
}

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** The first response in `text` (status line, headers, a body framed by content-length). */
export function parseRawResponse(text: string): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  return { status, headers, body: text.slice(end + 4, end + 4 + length) };
}

/** Resolves true when the server closes `socket` within `withinMs`, false when it is still open. */
export async function closedWithin(socket: Socket, withinMs: number): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) return true;
  socket.resume(); // 'end' comes only to a socket that is read
  const closed = new Promise<boolean>((resolve) => {
    socket.once('end', () => resolve(true)).once('close', () => resolve(true));
  });
  return Promise.race([closed, sleep(withinMs).then(() => false)]);
}
