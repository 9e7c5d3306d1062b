import type { ModelConfig } from '../config/schema.js';
import type { UpstreamPool } from '../runtime-pool/index.js';
import { createAttempt } from './attempt.js';
import { withBreaker, type VariantBreaker } from './breaker.js';
import type { LatencyWindow } from './latency.js';
import type { OutboundMetrics } from './metrics.js';
import { withRetries } from './retry.js';
import type { RetryBudget } from './retry-budget.js';
import type { VariantCall } from './variant-call.js';

export interface OutboundDeps {
  pools: ReadonlyMap<string, UpstreamPool>;
  metrics: OutboundMetrics;
  /** The model's recent latency: attempts feed it, retries need room for its p90. */
  latency: LatencyWindow;
  retryBudget: () => RetryBudget;
  /** The variant's (or shadow's) breaker as it stands when the call is made. */
  breakerOf: (variant: string) => VariantBreaker | undefined;
}

/**
 * A model's call to any of its variants, built in this one place from the outside in:
 *
 *   breaker  → refuses at once while the variant's circuit is open      (breaker.ts)
 *   retry    → leases endpoints from the pool, budget and deadline      (retry.ts)
 *   attempt  → one exchange with one endpoint: span, metrics, parsing   (attempt.ts)
 *
 * The primary call, the variant fallback and the shadows' mirrored copies all go through it.
 */
export function createOutboundCall(modelName: string, model: ModelConfig, deps: OutboundDeps): VariantCall {
  const attempt = createAttempt(modelName, { metrics: deps.metrics, latency: deps.latency });
  const retried = withRetries(modelName, attempt, {
    pools: deps.pools,
    latency: deps.latency,
    retryBudget: deps.retryBudget,
    metrics: deps.metrics,
    defaultReserveMs: model.fallback_reserve_ms,
  });
  return withBreaker(retried, deps.breakerOf);
}
