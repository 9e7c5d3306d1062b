import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { BodyProblem } from './body-problem.js';

/** What Fastify's body reader reads of a stream a preParsing hook returns. */
export type PreParsedPayload = Readable & { receivedEncodedLength?: number };

/**
 * The body stream a Fastify preParsing hook hands on, held to `limit` bytes: refused by its
 * content-length before a byte is read, else counted as it arrives and failed with a 413
 * BodyProblem the moment it passes the limit. The same rule as the fast path's readBody, for the
 * requests Fastify answers (a model URL in an unusual form), whose route limits are fixed when
 * the routes are registered, while a model's limit is read per request. A body with a
 * content-length goes on untouched (Fastify's reader checks it has that length).
 */
export function limitedBodyStream(
  headers: IncomingHttpHeaders,
  payload: Readable,
  limit: number,
): PreParsedPayload {
  if (Number(headers['content-length']) > limit)
    throw new BodyProblem('too_large', `over ${limit} bytes`, limit);
  if (headers['content-length'] !== undefined || headers['transfer-encoding'] === undefined) return payload;
  return payload.pipe(new ByteLimit(limit));
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
      done(new BodyProblem('too_large', `over ${this.limit} bytes`, this.limit));
      return;
    }
    done(null, chunk);
  }
}
