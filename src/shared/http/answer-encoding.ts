import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';

/**
 * Answers shorter than this go as they are, whatever the client accepts. Below about a kilobyte
 * an answer and its headers fit in one TCP segment (1460 bytes on a 1500-byte MTU), so a smaller
 * body saves no packet and no round trip, only costs the CPU of compressing it (gzip's own 18
 * bytes of frame and a cold Huffman table save little on so few bytes). The fraud decision,
 * about 250 bytes, is far below; a 64-row fraud infer answer (about 1.3 KB) is just above, and
 * halves.
 */
export const GZIP_MIN_BYTES = 1024;

/**
 * Level 1 (zlib's fastest): on a 385 KB answer of random floats in JSON it makes 47% of the size
 * in 22 ms, level 6 (the default) 45.5% in 60 ms, measured on this project's build machine:
 * the gateway's CPU is the scarce thing, and numbers in JSON gain little from a deeper search.
 * Compressing runs on libuv's thread pool (zlib's async API), not the event loop.
 */
const GZIP_OPTIONS = { level: constants.Z_BEST_SPEED };

const gzipAsync = promisify(gzip);

/** `body` gzipped, on the thread pool. */
export function gzipAnswer(body: string | Buffer): Promise<Buffer> {
  return gzipAsync(body, GZIP_OPTIONS);
}

/**
 * True when a request's `Accept-Encoding` takes gzip (RFC 9110 §12.5.3): `gzip` (or its alias
 * `x-gzip`, §8.4.1.3) listed with a weight above 0, or `*` above 0 without gzip listed. `q=0`
 * refuses it; no header at all means no preference, and then the answer goes as it is (a client
 * that sends no Accept-Encoding is most likely not ready to decode one: Python's urllib sends
 * none, and Triton's client asks when it wants it). Names and `q` are case-insensitive.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let star: boolean | undefined;
  for (const member of header.split(',')) {
    const [name = '', ...params] = member.split(';');
    const coding = name.trim().toLowerCase();
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const accepted = weightOf(params) > 0;
    if (coding === '*') star = accepted;
    else return accepted;
  }
  return star ?? false;
}

/** The `q` of a member's parameters (1 without one); a malformed weight counts as 0. */
function weightOf(params: string[]): number {
  for (const param of params) {
    const [key = '', value = ''] = param.split('=');
    if (key.trim().toLowerCase() !== 'q') continue;
    const weight = Number(value.trim());
    return Number.isFinite(weight) ? weight : 0;
  }
  return 1;
}

/**
 * The same rule for an answer Fastify sends (a route's onSend hook): `payload` gzipped when it
 * is text of at least GZIP_MIN_BYTES and `acceptEncoding` takes gzip, with its headers set
 * through `header`; anything else as it is.
 */
export async function encodeAnswerPayload(
  acceptEncoding: string | undefined,
  payload: unknown,
  header: (name: string, value: string) => void,
): Promise<unknown> {
  // A string is a JSON answer, a buffer the binary tensor extension's; a stream is left alone.
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
  if (payload.length < GZIP_MIN_BYTES) return payload;
  header('vary', 'Accept-Encoding');
  if (!acceptsGzip(acceptEncoding)) return payload;
  header('content-encoding', 'gzip');
  return gzipAnswer(payload);
}
