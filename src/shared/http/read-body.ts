import type { IncomingMessage } from 'node:http';
import type { BodyProblem } from './body-problem.js';
import { bodyCodingOf, decodeBody } from './decode-body.js';

export interface BodyHandlers {
  /** The whole body, decoded (bytes: the parse decides what they are); empty when there was none. */
  onBody(body: Buffer): void;
  /** The body passed `limit` (by its content-length, or while arriving): nothing more is read here. */
  onTooLarge(): void;
  /** Its content coding is not one decoded here (415), or its coded bytes do not decode (400). */
  onUndecodable(problem: BodyProblem): void;
}

/**
 * Reads a request body of at most `limit` bytes into one buffer, without a framework: the hot
 * paths of the gateway and the runtime answer on node:http. An aborted request never ends and has
 * no one to answer; with no 'error' listener, Node does not emit the abort as an error.
 *
 * A body with a `Content-Encoding` is inflated as it arrives (decode-body.ts), the limit held
 * against what it inflates to; a body without one costs one header lookup more than before.
 */
export function readBody(request: IncomingMessage, limit: number, handlers: BodyHandlers): void {
  const coding = request.headers['content-encoding'];
  // A coded body's content-length is its coded size: over the limit, it is over it decoded too
  // (deflate and gzip grow what they cannot shrink by a few bytes in 16 KiB at most).
  if (Number(request.headers['content-length']) > limit) {
    handlers.onTooLarge();
    return;
  }
  if (coding !== undefined) {
    const decoded = bodyCodingOf(coding, limit);
    if (typeof decoded === 'object') handlers.onUndecodable(decoded);
    else if (decoded === 'identity') readPlainBody(request, limit, handlers);
    else readCodedBody(request, decoded, limit, handlers);
    return;
  }
  readPlainBody(request, limit, handlers);
}

function readPlainBody(request: IncomingMessage, limit: number, handlers: BodyHandlers): void {
  const chunks: Buffer[] = [];
  let received = 0;
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > limit) {
      request.off('data', onData).off('end', onEnd);
      handlers.onTooLarge();
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (): void => {
    handlers.onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
  };
  request.on('data', onData).on('end', onEnd);
}

function readCodedBody(
  request: IncomingMessage,
  coding: 'gzip' | 'deflate',
  limit: number,
  handlers: BodyHandlers,
): void {
  const chunks: Buffer[] = [];
  let decoded = 0;
  decodeBody(request, coding, limit, {
    onChunk(chunk) {
      decoded += chunk.length;
      chunks.push(chunk);
    },
    onEnd: () => handlers.onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, decoded)),
    onProblem: (problem) =>
      problem.kind === 'too_large' ? handlers.onTooLarge() : handlers.onUndecodable(problem),
  });
}
