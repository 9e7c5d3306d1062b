import { performance } from 'node:perf_hooks';
import CircuitBreaker from 'opossum';
import { gatewayError, type ErrorCode } from '../errors.js';
import { refuse, type Reply } from '../pipeline/stage.js';
import type { Logger } from '../shared/logger.js';
import type { BreakerConfig } from '../stages/upstream/config.js';
import { logBreakerChanges, type BreakerOwner } from './breaker-log.js';
import type { LatencyWindow } from './latency.js';
import type { VariantCall } from './variant-call.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * Refusals that say the variant is unwell; a bad request is the caller's problem, not the model's
 * (the runtime's 4xx become INPUT_INVALID or UPSTREAM_REFUSED, which never count).
 */
const VARIANT_FAILURES = new Set<ErrorCode>([
  'SWY_ERR_UPSTREAM_FAILED',
  'SWY_ERR_UPSTREAM_MALFORMED_ANSWER',
  'SWY_ERR_UPSTREAM_NO_ENDPOINT',
  'SWY_ERR_BUDGET_EXHAUSTED',
]);

function isVariantFailure(code: ErrorCode, shortOfTime: boolean): boolean {
  return VARIANT_FAILURES.has(code) && !(shortOfTime && code === 'SWY_ERR_BUDGET_EXHAUSTED');
}

/** Built once: a refusal is a value, and an Error's stack costs microseconds to capture. */
const BREAKER_OPEN = Object.assign(new Error('Breaker is open'), { code: 'EOPENBREAKER' });
const CIRCUIT_OPEN = Object.freeze(refuse(gatewayError('UPSTREAM_CIRCUIT_OPEN')));

class VariantFailure extends Error {
  constructor(readonly reply: Reply & { ok: false }) {
    super(reply.error.message);
  }
}

/**
 * One opossum breaker per variant: when failures pass the threshold over enough volume in the
 * rolling window it opens, and calls answer at once with SWY_ERR_UPSTREAM_CIRCUIT_OPEN without
 * touching the network, until `reset_ms` later one trial call (half-open) decides.
 */
export class VariantBreaker {
  private readonly breaker: CircuitBreaker<[() => Promise<Reply>, boolean], Reply>;
  /** For the state-change log: what failed last, and what was refused while open. */
  private lastFailure: ErrorCode | undefined;
  private refused = 0;

  /** `log`: whose breaker it is and where its state changes go (none: not logged). */
  constructor(
    readonly config: BreakerConfig,
    log?: { owner: BreakerOwner; logger: Pick<Logger, 'info' | 'warn' | 'error'> },
  ) {
    this.breaker = new CircuitBreaker(
      async (call: () => Promise<Reply>, shortOfTime: boolean) => {
        const reply = await call();
        if (!reply.ok && isVariantFailure(reply.error.code, shortOfTime)) {
          this.lastFailure = reply.error.code;
          throw new VariantFailure(reply);
        }
        return reply;
      },
      {
        timeout: false, // the request's own deadline bounds every call
        errorThresholdPercentage: config.error_threshold_percent,
        volumeThreshold: config.volume_threshold,
        resetTimeout: config.reset_ms,
        rollingCountTimeout: config.rolling_window_ms,
        rollingCountBuckets: 10,
        // Off, because nothing reads them and they stall the event loop: with both on, every
        // bucket interval (a tenth of the window: 1 s) opossum gathers every call's latency of
        // the window into one array and sorts it, ~4 ms per breaker at 3000 calls/s, all breakers
        // in the same tick. The model's latency comes from our own window (latency.ts).
        rollingPercentilesEnabled: false,
        enableSnapshots: false,
        // Only a variant's failure counts (opossum's errorFilter: a filtered error is not a
        // failure). A call never throws by contract; if one did, the throw is the gateway's own
        // fault (or a request it could not serve), which says nothing of the variant's health.
        errorFilter: (error: unknown) => !(error instanceof VariantFailure),
      },
    );
    if (log) {
      logBreakerChanges(
        this.breaker,
        config,
        log.owner,
        {
          window: () => this.breaker.stats,
          lastFailure: () => this.lastFailure,
          refusedSinceOpen: () => this.refused,
        },
        log.logger,
      );
    }
    // After the log's own listener, which reports the count on closing.
    this.breaker.on('close', () => {
      this.refused = 0;
    });
  }

  /**
   * `shortOfTime`: the call began with less time than the variant usually needs, so running out
   * of it is the request's doing (a caller's short `x-request-timeout-ms`), not the variant's.
   */
  async call(call: () => Promise<Reply>, shortOfTime = false): Promise<Reply> {
    const breaker = this.breaker;
    if (breaker.enabled && !breaker.isShutdown && !breaker.closed && !breaker.pendingClose) {
      // Open (or half-open with its trial under way): what fire() would do, minus the Error it
      // builds, stack and all, on every refused call (measured: 11% of the gateway's CPU while
      // answering fallbacks). The same events, so opossum's rolling stats count the call as
      // fired and rejected, and one shared refusal.
      breaker.emit('fire', [call]);
      breaker.emit('reject', BREAKER_OPEN);
      this.refused++;
      return CIRCUIT_OPEN;
    }
    try {
      return await this.breaker.fire(call, shortOfTime);
    } catch (error) {
      if (error instanceof VariantFailure) return error.reply;
      if ((error as { code?: string }).code === 'EOPENBREAKER') {
        this.refused++;
        return CIRCUIT_OPEN;
      }
      return refuse(gatewayError('INTERNAL', undefined, { cause: error }));
    }
  }

  get state(): BreakerState {
    if (this.breaker.opened) return 'open';
    if (this.breaker.halfOpen) return 'half_open';
    return 'closed';
  }

  shutdown(): void {
    this.breaker.shutdown();
  }
}

export interface BreakerLayerDeps {
  /** The model's recent latency: a call given less than its p90 was expected to run out. */
  latency: Pick<LatencyWindow, 'p90Ms'>;
  /** The model's `fallback_reserve_ms`: the reserve of a call that does not name its own. */
  defaultReserveMs: number;
}

/**
 * The outermost layer: a call through the variant's breaker, looked up per call so that a
 * reload's new breaker applies at once, also to requests still running on the old version. A
 * call that starts with less time for the runtime than the model's recent p90 (the bar a retry
 * must clear, retry.ts) does not count against the variant when it runs out of time: else a
 * caller sending `x-request-timeout-ms: 2` would open the breaker for everyone.
 */
export function withBreaker(
  inner: VariantCall,
  breakerOf: (variant: string) => VariantBreaker | undefined,
  deps: BreakerLayerDeps,
): VariantCall {
  return (ctx, variant, reserveMs = deps.defaultReserveMs) => {
    const breaker = breakerOf(variant.name);
    if (!breaker) return inner(ctx, variant, reserveMs);
    const timeMs = ctx.deadline - performance.now() - reserveMs;
    const shortOfTime = timeMs <= 0 || timeMs < deps.latency.p90Ms();
    return breaker.call(() => inner(ctx, variant, reserveMs), shortOfTime);
  };
}
