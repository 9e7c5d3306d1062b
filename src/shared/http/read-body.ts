import type { IncomingMessage } from 'node:http';

export interface BodyHandlers {
  /** The whole body as it came (bytes: the parse decides what they are); empty when there was none. */
  onBody(body: Buffer): void;
  /** The body passed `limit` (by its content-length, or while arriving): nothing more is read here. */
  onTooLarge(): void;
}

/**
 * Reads a request body of at most `limit` bytes into one buffer, without a framework: the hot
 * paths of the gateway and the runtime answer on node:http. An aborted request never ends and has
 * no one to answer; with no 'error' listener, Node does not emit the abort as an error.
 */
export function readBody(request: IncomingMessage, limit: number, handlers: BodyHandlers): void {
  if (Number(request.headers['content-length']) > limit) {
    handlers.onTooLarge();
    return;
  }
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
