import { Type, type Static } from '@sinclair/typebox';

/**
 * Retries are a budget, not a count: at most `budget_percent` of recent requests may be retries,
 * plus `min_per_second` so a quiet model can still retry (Finagle/linkerd retry budgets). A fixed
 * count multiplies load exactly when the runtimes are struggling.
 */
export const RetryConfigSchema = Type.Object(
  {
    budget_percent: Type.Number({ minimum: 0, maximum: 100, default: 20 }),
    min_per_second: Type.Number({ minimum: 0, default: 3 }),
  },
  { additionalProperties: false, default: {} },
);

/** Per variant: opens when errors pass the threshold over enough volume in the rolling window. */
export const BreakerConfigSchema = Type.Object(
  {
    error_threshold_percent: Type.Number({ minimum: 0, maximum: 100, default: 50 }),
    volume_threshold: Type.Integer({ minimum: 1, default: 20 }),
    reset_ms: Type.Integer({ minimum: 1, default: 5000 }),
    rolling_window_ms: Type.Integer({ minimum: 100, default: 10000 }),
  },
  { additionalProperties: false, default: {} },
);

/** The upstream stage's fields of a model. */
export const UpstreamModelFields = {
  /** The whole request's deadline unless the caller sends a smaller `x-request-timeout-ms`. */
  budget_ms: Type.Integer({ minimum: 1, default: 250 }),
  /** Kept back from the upstream call so a fallback still has time to answer. */
  fallback_reserve_ms: Type.Integer({ minimum: 0, default: 5 }),
  retry: RetryConfigSchema,
  breaker: BreakerConfigSchema,
};

export type RetryConfig = Static<typeof RetryConfigSchema>;
export type BreakerConfig = Static<typeof BreakerConfigSchema>;
