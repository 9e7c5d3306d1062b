import type { EventEmitter } from 'node:events';
import type { Logger } from '../shared/logger.js';
import type { BreakerConfig } from '../stages/upstream/config.js';

/** Whose breaker it is, on every line. */
export interface BreakerOwner {
  model: string;
  variant: string;
}

/** What the log reads from the breaker when its state changes (never per call). */
export interface BreakerFacts {
  /** The rolling window's calls and failures when it opened (opossum's `stats`). */
  window(): { fires: number; failures: number };
  /** The code of the variant's last failure: what made it open. */
  lastFailure(): string | undefined;
  /** Calls refused at once since the breaker last opened. */
  refusedSinceOpen(): number;
}

/** Longest gap between two lines about one breaker that stays open through failed trials. */
const STILL_OPEN_INTERVAL_MS = 10_000;

/**
 * A line per change of a variant breaker's state, never one per call (an open breaker refuses
 * thousands of calls a second, and each says nothing new):
 * - open (error): the variant's calls are refused; why (the window's failures against the
 *   threshold, the last failure's code).
 * - half-open (warn): `reset_ms` passed; the next call is the trial.
 * - open again (error): the trial failed.
 * - closed (info): a trial succeeded; how long it was open, the calls it refused, the trials
 *   that failed.
 * While the variant stays down, the breaker goes half-open and back every `reset_ms` (5 s by
 * default: 1440 pairs of lines an hour). The first pair is logged; the later ones are counted,
 * in a "still open" line at most every 10 s and in the closing line (the outage-log pattern of
 * src/shared/outage-log.ts: once, then a count, then the end).
 */
export function logBreakerChanges(
  events: Pick<EventEmitter, 'on'>,
  config: BreakerConfig,
  owner: BreakerOwner,
  facts: BreakerFacts,
  logger: Pick<Logger, 'info' | 'warn' | 'error'>,
  options: { now?: () => number; intervalMs?: number } = {},
): void {
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? STILL_OPEN_INTERVAL_MS;
  const name = `${owner.model}/${owner.variant}`;
  let openedAt: number | undefined;
  let lastLineAt = 0;
  let trying = false;
  let trialsFailed = 0;

  const openFor = () => (openedAt === undefined ? null : now() - openedAt);

  events.on('open', () => {
    const lastFailure = facts.lastFailure() ?? null;
    if (!trying) {
      openedAt = lastLineAt = now();
      trialsFailed = 0;
      const { fires, failures } = facts.window();
      logger.error(
        {
          ...owner,
          state: 'open',
          reason: 'error_threshold',
          failures,
          calls: fires,
          window_ms: config.rolling_window_ms,
          error_threshold_percent: config.error_threshold_percent,
          last_failure: lastFailure,
          reset_ms: config.reset_ms,
        },
        `breaker of ${name} open: ${failures} of ${fires} calls failed; its calls are refused (or fall back)`,
      );
      return;
    }
    trying = false;
    trialsFailed += 1;
    if (trialsFailed === 1) {
      lastLineAt = now();
      logger.error(
        {
          ...owner,
          state: 'open',
          reason: 'trial_failed',
          last_failure: lastFailure,
          reset_ms: config.reset_ms,
        },
        `breaker of ${name} open again: the trial call failed`,
      );
    } else if (now() - lastLineAt >= intervalMs) {
      lastLineAt = now();
      logger.error(
        {
          ...owner,
          state: 'open',
          reason: 'still_open',
          trials_failed: trialsFailed,
          refused: facts.refusedSinceOpen(),
          open_ms: openFor(),
          last_failure: lastFailure,
        },
        `breaker of ${name} still open: ${trialsFailed} trial calls failed`,
      );
    }
  });

  events.on('halfOpen', () => {
    trying = true;
    if (trialsFailed > 0) return; // counted: the closing or the next "still open" line says how it went
    logger.warn(
      { ...owner, state: 'half_open', reason: 'reset_elapsed', reset_ms: config.reset_ms },
      `breaker of ${name} half-open: the next call is a trial`,
    );
  });

  events.on('close', () => {
    trying = false;
    logger.info(
      {
        ...owner,
        state: 'closed',
        reason: 'trial_succeeded',
        open_ms: openFor(),
        refused: facts.refusedSinceOpen(),
        trials_failed: trialsFailed,
      },
      `breaker of ${name} closed: the trial call succeeded`,
    );
    openedAt = undefined;
    trialsFailed = 0;
  });
}
