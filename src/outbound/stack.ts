import type { ModelConfig } from '../config/schema.js';
import type { UpstreamPool } from '../runtime-pool/index.js';
import type { ModelMetadata } from '../shared/oip.js';
import { createAttempt } from './attempt.js';
import { withBreaker, type VariantBreaker } from './breaker.js';
import type { LatencyWindow } from './latency.js';
import type { OutboundMetrics } from './metrics.js';
import { withRetries } from './retry.js';
import type { RetryBudget } from './retry-budget.js';
import type { CallTarget, VariantCall } from './variant-call.js';

export interface OutboundDeps {
  pools: ReadonlyMap<string, UpstreamPool>;
  metrics: OutboundMetrics;
  /** The model's recent latency: attempts feed it, retries need room for its p90. */
  latency: LatencyWindow;
  retryBudget: () => RetryBudget;
  /** The variant's (or shadow's) breaker as it stands when the call is made. */
  breakerOf: (variant: string) => VariantBreaker | undefined;
  /** The runtime's metadata of a target's model version, once fetched: its answers must fit it. */
  metadataOf?: (target: CallTarget) => ModelMetadata | undefined;
}

/**
 * A model's call to any of its variants, built in this one place from the outside in:
 *
 *   breaker  → refuses at once while the variant's circuit is open      (breaker.ts)
 *   retry    → leases endpoints from the pool, budget and deadline      (retry.ts)
 *   attempt  → one exchange with one endpoint: span, metrics, checking  (attempt.ts, answer.ts)
 *
 * The primary call, the variant fallback and the shadows' mirrored copies all go through it.
 */
export function createOutboundCall(modelName: string, model: ModelConfig, deps: OutboundDeps): VariantCall {
  const { contract } = model;
  const attempt = createAttempt(modelName, {
    metrics: deps.metrics,
    latency: deps.latency,
    answerSpec: (target) => ({ metadata: deps.metadataOf?.(target), contract }),
  });
  const retried = withRetries(modelName, attempt, {
    pools: deps.pools,
    latency: deps.latency,
    retryBudget: deps.retryBudget,
    metrics: deps.metrics,
    defaultReserveMs: model.fallback_reserve_ms,
  });
  return withBreaker(retried, deps.breakerOf, {
    latency: deps.latency,
    defaultReserveMs: model.fallback_reserve_ms,
  });
}
