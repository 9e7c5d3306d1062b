import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { tooLarge } from './body-problem.js';
import { bodyCodingOf, decodeBody, type BodyCoding } from './decode-body.js';

/** What Fastify's body reader reads of a stream a preParsing hook returns. */
export type PreParsedPayload = Readable & { receivedEncodedLength?: number };

/**
 * The body stream a Fastify preParsing hook hands on, decoded and held to `limit` bytes: refused
 * by its content-length before a byte is read, else counted as it arrives and failed with a 413
 * BodyProblem the moment it passes the limit; a coded body (gzip, deflate) is inflated as it
 * arrives and the limit held against what it inflates to (decode-body.ts); an unknown coding is a
 * 415 BodyProblem, thrown before a byte is read. The same rules as the fast path's readBody, for
 * the requests Fastify answers (a URL in an unusual form), whose route limits are fixed when the
 * routes are registered, while a model's limit is read per request. A plain body with a
 * content-length goes on untouched (Fastify's reader checks it has that length).
 */
export function limitedBodyStream(
  headers: IncomingHttpHeaders,
  payload: Readable,
  limit: number,
): PreParsedPayload {
  if (Number(headers['content-length']) > limit) throw tooLarge(limit);
  const header = headers['content-encoding'];
  const coding = header === undefined ? 'identity' : bodyCodingOf(header, limit);
  if (typeof coding === 'object') throw coding;
  if (coding !== 'identity') return decodedStream(payload, coding, limit);
  if (headers['content-length'] !== undefined || headers['transfer-encoding'] === undefined) return payload;
  return payload.pipe(new ByteLimit(limit));
}

/**
 * `payload` inflated; `receivedEncodedLength` counts the coded bytes read, which Fastify's reader
 * compares with the content-length (it would compare the decoded length without it).
 */
function decodedStream(payload: Readable, coding: BodyCoding, limit: number): PreParsedPayload {
  const decoded: PassThrough & { receivedEncodedLength?: number } = new PassThrough();
  let coded = 0;
  payload.on('data', (chunk: Buffer) => {
    coded += chunk.length;
    decoded.receivedEncodedLength = coded;
  });
  decodeBody(payload, coding, limit, {
    onChunk: (chunk) => void decoded.write(chunk),
    onEnd: () => void decoded.end(),
    onProblem: (problem) => void decoded.destroy(problem),
  });
  return decoded;
}

/** Passes bytes on until more than `limit` have passed, then fails with a 413 BodyProblem. */
class ByteLimit extends Transform {
  private passed = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.passed += chunk.length;
    if (this.passed > this.limit) {
      done(tooLarge(this.limit));
      return;
    }
    done(null, chunk);
  }
}
