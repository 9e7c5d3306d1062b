/**
 * Token-bucket rate limiting behind one interface, so the admission stage does not know whether
 * buckets live in this process or in Redis shared by every replica.
 */

export type LimitOutcome = 'ok' | 'over_limit' | 'fail_open' | 'fail_closed';

export interface LimitDecision {
  allowed: boolean;
  /** Bucket size (burst), for RateLimit-Limit. */
  limit: number;
  /** Whole tokens left after this request, for RateLimit-Remaining. */
  remaining: number;
  /** Milliseconds until the bucket is full again, for RateLimit-Reset. */
  resetMs: number;
  /** When refused: milliseconds until one token is available; otherwise 0. */
  retryAfterMs: number;
  outcome: LimitOutcome;
}

export interface Limiter {
  /**
   * Takes one token from the bucket `key`, which refills at `rps` tokens per second (may be
   * fractional) up to `burst`; a bucket seen for the first time starts full.
   */
  take(key: string, rps: number, burst: number): Promise<LimitDecision>;
  close(): Promise<void>;
}

/** What happens to requests when the shared store cannot be reached. */
export type FailureMode = 'open' | 'closed';

/**
 * A bucket that can never admit (rps ≤ 0, burst < 1) or NaN limits are a config bug; they are
 * refused loudly rather than turned into "never limit" or "always refuse" by arithmetic.
 */
export function checkLimits(rps: number, burst: number): void {
  if (!(rps > 0) || !(burst >= 1) || !Number.isFinite(rps) || !Number.isFinite(burst)) {
    throw new RangeError(`rate limit needs rps > 0 and burst >= 1 (finite); got rps=${rps} burst=${burst}`);
  }
}
