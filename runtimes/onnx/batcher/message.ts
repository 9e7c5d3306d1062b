import type { RuntimeError } from '../errors.js';
import type { Tensor } from '../tensors.js';

/** One session.run, shared by the requests it served. */
export interface BatchRun {
  /** Every output of the run, all rows. */
  outputs: Map<string, Tensor>;
  /** Rows in the run. */
  rows: number;
  /** Milliseconds the session.run took. */
  inferMs: number;
}

/**
 * Who waits for a request: the batcher calls one of these exactly once, possibly from inside
 * `submit` (a full queue, an expired deadline). Neither may throw.
 */
export interface BatchWaiter {
  /** The request's rows of the run start at `row`; it waited `queueMs` before the run started. */
  resolve(batch: BatchRun, row: number, queueMs: number): void;
  reject(error: RuntimeError): void;
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
  waiter: BatchWaiter;
}
