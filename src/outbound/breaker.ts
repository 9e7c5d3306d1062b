import CircuitBreaker from 'opossum';
import { gatewayError, type ErrorCode } from '../errors.js';
import { refuse, type Reply } from '../pipeline/stage.js';
import type { BreakerConfig } from '../stages/upstream/config.js';
import type { VariantCall } from './variant-call.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Refusals that say the variant is unwell; a bad request is the caller's problem, not the model's. */
const VARIANT_FAILURES = new Set<ErrorCode>([
  'SWY_ERR_UPSTREAM_FAILED',
  'SWY_ERR_UPSTREAM_NO_ENDPOINT',
  'SWY_ERR_BUDGET_EXHAUSTED',
]);

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
  private readonly breaker: CircuitBreaker<[() => Promise<Reply>], Reply>;

  constructor(readonly config: BreakerConfig) {
    this.breaker = new CircuitBreaker(
      async (call: () => Promise<Reply>) => {
        const reply = await call();
        if (!reply.ok && VARIANT_FAILURES.has(reply.error.code)) throw new VariantFailure(reply);
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
      },
    );
  }

  async call(call: () => Promise<Reply>): Promise<Reply> {
    const breaker = this.breaker;
    if (breaker.enabled && !breaker.isShutdown && !breaker.closed && !breaker.pendingClose) {
      // Open (or half-open with its trial under way): what fire() would do, minus the Error it
      // builds, stack and all, on every refused call (measured: 11% of the gateway's CPU while
      // answering fallbacks). The same events, so opossum's rolling stats count the call as
      // fired and rejected, and one shared refusal.
      breaker.emit('fire', [call]);
      breaker.emit('reject', BREAKER_OPEN);
      return CIRCUIT_OPEN;
    }
    try {
      return await this.breaker.fire(call);
    } catch (error) {
      if (error instanceof VariantFailure) return error.reply;
      if ((error as { code?: string }).code === 'EOPENBREAKER') return CIRCUIT_OPEN;
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

/**
 * The outermost layer: a call through the variant's breaker, looked up per call so that a
 * reload's new breaker applies at once, also to requests still running on the old version.
 */
export function withBreaker(
  inner: VariantCall,
  breakerOf: (variant: string) => VariantBreaker | undefined,
): VariantCall {
  return (ctx, variant, reserveMs) => {
    const breaker = breakerOf(variant.name);
    return breaker ? breaker.call(() => inner(ctx, variant, reserveMs)) : inner(ctx, variant, reserveMs);
  };
}
