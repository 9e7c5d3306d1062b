import { performance } from 'node:perf_hooks';
import type { Datatype } from '../../../src/shared/oip.js';
import { RuntimeError } from '../errors.js';
import { allocate, product, type Tensor } from '../tensors.js';
import type { BatchMessage, BatchRun, BatchWaiter } from './message.js';
import { RequestQueue } from './queue.js';

/** Runs one merged batch: inputs with `rows` rows in, outputs with the same rows out. */
export type RunBatch = (inputs: Map<string, Tensor>, rows: number) => Promise<Map<string, Tensor>>;

export interface BatchObserver {
  /** A session.run finished: how many rows, how long, how long each request had queued. */
  batch(rows: number, inferMs: number, queueMs: readonly number[]): void;
}

export interface BatcherOptions {
  run: RunBatch;
  inputs: readonly { name: string; datatype: Datatype; dims: readonly number[] }[];
  /** 0: no merging, each request runs alone. */
  maxBatchSize: number;
  maxQueueDelayUs: number;
  preferredBatchSizes: readonly number[];
  maxQueueSize: number;
  /** 0: no limit besides the caller's own deadline. */
  queueTimeoutUs: number;
  /** session.run calls allowed at once. */
  instances: number;
  observer: BatchObserver;
}

export interface Batcher {
  /**
   * Queues one request; `deadline` is a performance.now() time, or Infinity. The answer goes to
   * `waiter`. A callback rather than a promise: a request then costs no promise or microtask here.
   */
  submit(inputs: Map<string, Tensor>, rows: number, deadline: number, waiter: BatchWaiter): void;
  /** Requests queued and not yet running. */
  depth(): number;
}

/**
 * Dynamic batching as Triton does it: a request waits until the batch is full (or reaches a
 * preferred size) or the oldest request has waited `max_queue_delay_us`, then one session.run
 * serves them all and the outputs are split back by each request's rows. While every instance
 * is busy, requests pile up and the next run takes them at once, so batches grow with load.
 */
export function createBatcher(options: BatcherOptions): Batcher {
  const queue = new RequestQueue();
  const batching = options.maxBatchSize > 0;
  const delayMs = options.maxQueueDelayUs / 1000;
  const preferred = new Set(options.preferredBatchSizes);
  let running = 0;
  let waiting = false;

  function schedule(): void {
    while (running < options.instances && queue.size > 0) {
      if (!batching) {
        dispatch(queue.take(1));
        continue;
      }
      const oldest = queue.oldest()!;
      const waitMs = oldest.enqueuedAt + delayMs - performance.now();
      if (queue.rows >= options.maxBatchSize || preferred.has(queue.rows) || waitMs <= 0) {
        dispatch(queue.take(options.maxBatchSize));
        continue;
      }
      if (!waiting) wait(waitMs);
      return;
    }
  }

  /**
   * Node's timers tick in whole milliseconds, so a sub-millisecond delay is one turn of the
   * event loop instead: every request already read from the sockets joins the batch, and a
   * lone request pays microseconds, not a millisecond.
   */
  function wait(waitMs: number): void {
    waiting = true;
    const fire = (): void => {
      waiting = false;
      if (running < options.instances && queue.size > 0) dispatch(queue.take(options.maxBatchSize));
      schedule();
    };
    if (waitMs < 1) setImmediate(fire);
    else setTimeout(fire, waitMs);
  }

  function dispatch(messages: BatchMessage[]): void {
    const startedAt = performance.now();
    const live: BatchMessage[] = [];
    for (const message of messages) {
      clearTimeout(message.expiry);
      if (message.deadline <= startedAt) {
        expire(message);
      } else {
        message.state = 'running';
        live.push(message);
      }
    }
    if (live.length === 0) return;
    running++;
    let rows = 0;
    for (const message of live) rows += message.rows;
    options
      .run(merge(live, rows), rows)
      .then(
        (outputs) => {
          const batch: BatchRun = { outputs, rows, inferMs: performance.now() - startedAt };
          options.observer.batch(
            rows,
            batch.inferMs,
            live.map((m) => startedAt - m.enqueuedAt),
          );
          let row = 0;
          for (const message of live) {
            if (message.state !== 'settled') {
              message.state = 'settled';
              message.waiter.resolve(batch, row, startedAt - message.enqueuedAt);
            }
            row += message.rows;
          }
        },
        (error: unknown) => {
          const failure = new RuntimeError(500, `inference failed: ${describe(error)}`, { cause: error });
          for (const message of live) settle(message, failure);
        },
      )
      .finally(() => {
        running--;
        schedule();
      });
  }

  function merge(messages: BatchMessage[], rows: number): Map<string, Tensor> {
    if (messages.length === 1) return messages[0]!.inputs;
    const merged = new Map<string, Tensor>();
    for (const spec of options.inputs) {
      const rowSize = product(spec.dims);
      const data = allocate(spec.datatype, rows * rowSize);
      let offset = 0;
      for (const message of messages) {
        const part = message.inputs.get(spec.name)!.data;
        data.set(part as never, offset);
        offset += part.length;
      }
      merged.set(spec.name, { data, dims: [rows, ...spec.dims] });
    }
    return merged;
  }

  function expire(message: BatchMessage): void {
    settle(message, new RuntimeError(504, 'the request deadline passed while it was queued; it did not run'));
  }

  function settle(message: BatchMessage, error: RuntimeError): void {
    if (message.state === 'settled') return;
    message.state = 'settled';
    message.waiter.reject(error);
  }

  return {
    submit(inputs, rows, callerDeadline, waiter) {
      if (queue.size >= options.maxQueueSize) {
        waiter.reject(
          new RuntimeError(503, `the model's queue is full (${options.maxQueueSize} requests); retry later`, {
            queueFull: true,
          }),
        );
        return;
      }
      const enqueuedAt = performance.now();
      const queueDeadline =
        options.queueTimeoutUs > 0 ? enqueuedAt + options.queueTimeoutUs / 1000 : Number.POSITIVE_INFINITY;
      const deadline = Math.min(queueDeadline, callerDeadline);
      const message: BatchMessage = {
        inputs,
        rows,
        enqueuedAt,
        deadline,
        state: 'queued',
        expiry: undefined,
        waiter,
      };
      if (Number.isFinite(deadline)) {
        message.expiry = setTimeout(
          () => {
            if (message.state !== 'queued') return;
            queue.cancel(message);
            expire(message);
          },
          Math.max(0, deadline - enqueuedAt),
        );
      }
      queue.push(message);
      schedule();
    },
    depth: () => queue.size,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
