import type { Logger } from '../shared/logger.js';

/**
 * Work done on a request's behalf once its answer is decided: the after-phase's steps, the
 * shadows' copies and comparisons, cache writes, rollout notifications. A fixed list: the
 * `task` label of switchyard_deferred_failures_total.
 */
export type DeferredTask =
  | 'server_timing'
  | 'request_metrics'
  | 'request_log'
  | 'prediction_record'
  | 'rollout_evidence'
  | 'drift_sample'
  | 'rollout_notify'
  | 'shadow_send'
  | 'shadow_compare'
  | 'cache_write';

/**
 * Runs that work so that a failure in it is counted and logged, and goes no further: it never
 * changes an answer already decided, and never reaches the event loop, where a throw from a
 * setImmediate or a promise nobody awaits ends the process and every request in flight with it
 * (Node's default for uncaught exceptions and, since Node 15, unhandled rejections). Each place
 * that defers work says which task it is; nothing is caught process-wide, which would hide the
 * failures of everything else.
 */
export interface DeferredTasks {
  /** Runs `work` now; a throw is counted and logged, never rethrown. */
  run(task: DeferredTask, work: () => void): void;
  /** Runs `work` at the end of this turn of the event loop (setImmediate), guarded as `run` is. */
  later(task: DeferredTask, work: () => void): void;
  /** A failure caught elsewhere (a promise's rejection), counted and logged as `run`'s are. */
  failed(task: DeferredTask, error: unknown): void;
}

/** At most one log line per task in this long, with the count of failures since the last one. */
const LOG_INTERVAL_MS = 10_000;

/** The gateway's DeferredTasks, counting into switchyard_deferred_failures_total (src/telemetry/metrics.ts). */
export function createDeferredTasks(
  failures: { inc(labels: { task: DeferredTask }): void },
  logger: Pick<Logger, 'error'>,
  now: () => number = Date.now,
): DeferredTasks {
  const logged = new Map<DeferredTask, { at: number; unlogged: number }>();

  function failed(task: DeferredTask, error: unknown): void {
    try {
      failures.inc({ task });
      const last = logged.get(task);
      const at = now();
      if (last && at - last.at < LOG_INTERVAL_MS) {
        last.unlogged++;
        return;
      }
      logged.set(task, { at, unlogged: 0 });
      logger.error(
        { err: error, task, failures_since_last_line: last?.unlogged ?? 0 },
        'deferred work failed; the request it was for had its answer',
      );
    } catch {
      // Counting or logging failed too (a broken stdout): there is nothing left to tell.
    }
  }

  function run(task: DeferredTask, work: () => void): void {
    try {
      work();
    } catch (error) {
      failed(task, error);
    }
  }

  return {
    run,
    later: (task, work) => void setImmediate(run, task, work),
    failed,
  };
}
