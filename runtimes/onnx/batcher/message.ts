import type { RuntimeError } from '../errors.js';
import type { Tensor } from '../tensors.js';

export interface BatchResult {
  /** This request's rows of each output. */
  outputs: Map<string, Tensor>;
  /** Milliseconds from enqueue to the start of its session.run. */
  queueMs: number;
  /** Milliseconds the session.run took. */
  inferMs: number;
  /** Rows in the session.run this request shared. */
  batchRows: number;
}

/** One request waiting for, or riding in, a batch. */
export interface BatchMessage {
  inputs: Map<string, Tensor>;
  rows: number;
  /** performance.now() when it was queued. */
  enqueuedAt: number;
  /** performance.now() after which it must not start; Infinity when it has no deadline. */
  deadline: number;
  state: 'queued' | 'running' | 'settled';
  /** Fires at the deadline while the message is still queued. */
  expiry: NodeJS.Timeout | undefined;
  resolve(result: BatchResult): void;
  reject(error: RuntimeError): void;
}
