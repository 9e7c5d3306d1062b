import { Counter, Gauge, type Registry } from 'prom-client';
import type { LimitOutcome } from './limiter.js';

const LIMIT_OUTCOMES: readonly LimitOutcome[] = ['ok', 'over_limit', 'fail_open', 'fail_closed'];

export function createStateMetrics(registry: Registry) {
  // Limiters add to these plain numbers and the counter takes them at scrape time. A decision is
  // made on every request, and a labelled prom-client inc() hashes its label set on each call
  // (~90 ns measured), more than the in-memory token bucket itself (~60 ns).
  const decisionTally: Record<LimitOutcome, number> = { ok: 0, over_limit: 0, fail_open: 0, fail_closed: 0 };
  return {
    decisionTally,
    rateLimitDecisions: new Counter({
      name: 'switchyard_ratelimit_decisions_total',
      help: 'Rate-limit decisions by outcome (ok | over_limit | fail_open | fail_closed); fail_* means the shared store was unreachable.',
      labelNames: ['outcome'] as const,
      registers: [registry],
      collect() {
        // Adding 0 still creates the series, so every outcome is on /metrics from the start.
        for (const outcome of LIMIT_OUTCOMES) {
          this.inc({ outcome }, decisionTally[outcome]);
          decisionTally[outcome] = 0;
        }
      },
    }),
    redisUp: new Gauge({
      name: 'switchyard_state_redis_up',
      help: 'Whether the shared state store (Redis) answered the last time it was used: 1 up, 0 down.',
      registers: [registry],
    }),
  };
}

export type StateMetrics = ReturnType<typeof createStateMetrics>;
