import { performance } from 'node:perf_hooks';
import { checkLimits, type LimitDecision, type LimitOutcome, type Limiter } from './limiter.js';
import type { StateMetrics } from './metrics.js';

export interface MemoryLimiterOptions {
  /** Milliseconds on a monotonic clock; injectable for tests. Default `performance.now`. */
  now?: () => number;
  /** Most buckets held at once. Default 100 000 (~10 MB of small objects and keys). */
  maxBuckets?: number;
  /** How often full, idle buckets are dropped. Default 10 s. */
  sweepIntervalMs?: number;
  metrics?: StateMetrics;
}

export interface MemoryLimiter extends Limiter {
  /**
   * The same decision as `take`, synchronously: the Redis limiter's fail-open path and callers
   * that want no promise use it. `outcome` replaces ok/over_limit when given.
   */
  decide(key: string, rps: number, burst: number, outcome?: LimitOutcome): LimitDecision;
  /** Buckets held now (for tests and debugging). */
  size(): number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
  /** When the bucket will be full if nobody takes from it; a full bucket equals a missing one. */
  fullAtMs: number;
}

// Refill arithmetic in binary floating point lands a hair below whole numbers (0.1 rps over
// 10 s is 0.9999999999999999 tokens); without a tolerance that token would be refused.
const EPSILON = 1e-9;

/**
 * An exact token bucket per key, refilled lazily from elapsed time on each take. Memory is
 * bounded: buckets that are full and idle are dropped (losslessly — a new bucket starts full),
 * and past `maxBuckets` the oldest-created go first.
 */
export function createMemoryLimiter(options: MemoryLimiterOptions = {}): MemoryLimiter {
  const now = options.now ?? (() => performance.now());
  const maxBuckets = options.maxBuckets ?? 100_000;
  const sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
  const tally = options.metrics?.decisionTally;
  const buckets = new Map<string, Bucket>();
  // The sweep piggybacks on calls rather than a timer, so the limiter owns no handles and an
  // injected clock drives it in tests.
  let nextSweepMs = now() + sweepIntervalMs;

  function sweep(nowMs: number): void {
    nextSweepMs = nowMs + sweepIntervalMs;
    for (const [key, bucket] of buckets) {
      if (bucket.fullAtMs <= nowMs) buckets.delete(key);
    }
    if (buckets.size < maxBuckets) return;
    // Still over the cap: every bucket is in use, so something must go early (its key gets a
    // fresh, full bucket if it comes back). Shrink to 90% so a flood of new keys pays for one
    // sweep per 10% of the cap, not one per call. Map iteration is insertion order, so the
    // oldest-created buckets go first.
    const target = Math.floor(maxBuckets * 0.9);
    for (const key of buckets.keys()) {
      if (buckets.size <= target) break;
      buckets.delete(key);
    }
  }

  function decide(key: string, rps: number, burst: number, outcome?: LimitOutcome): LimitDecision {
    checkLimits(rps, burst);
    const nowMs = now();
    if (nowMs >= nextSweepMs) sweep(nowMs);
    let bucket = buckets.get(key);
    let tokens: number;
    if (bucket === undefined) {
      if (buckets.size >= maxBuckets) sweep(nowMs);
      tokens = burst;
      bucket = { tokens, updatedMs: nowMs, fullAtMs: nowMs };
      buckets.set(key, bucket);
    } else {
      const elapsedMs = nowMs - bucket.updatedMs;
      // Limits may change between calls (config reload, replica share); a smaller burst caps
      // what is already in the bucket.
      tokens = Math.min(burst, bucket.tokens + (elapsedMs > 0 ? (elapsedMs * rps) / 1000 : 0));
    }

    const allowed = tokens >= 1 - EPSILON;
    if (allowed) tokens = Math.max(0, tokens - 1);
    const refillMs = ((burst - tokens) * 1000) / rps;
    bucket.tokens = tokens;
    bucket.updatedMs = nowMs;
    bucket.fullAtMs = nowMs + refillMs;

    const result = outcome ?? (allowed ? 'ok' : 'over_limit');
    if (tally) tally[result]++;
    return {
      allowed,
      limit: burst,
      remaining: Math.floor(tokens + EPSILON),
      resetMs: Math.max(0, Math.ceil(refillMs - EPSILON)),
      retryAfterMs: allowed ? 0 : Math.ceil(((1 - tokens) * 1000) / rps - EPSILON),
      outcome: result,
    };
  }

  return {
    decide,
    take(key, rps, burst) {
      try {
        return Promise.resolve(decide(key, rps, burst));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    size: () => buckets.size,
    close() {
      buckets.clear();
      return Promise.resolve();
    },
  };
}
