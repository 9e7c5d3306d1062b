import { Counter, type Registry } from 'prom-client';
import { LeanCounter, LeanHistogram } from '../telemetry/lean-metrics.js';

export function createOutboundMetrics(registry: Registry) {
  return {
    attempts: new LeanCounter({
      name: 'switchyard_upstream_attempts_total',
      help: 'Calls to runtime endpoints by model, variant and outcome (ok | client_error | malformed | retryable | timeout).',
      labelNames: ['model', 'variant', 'outcome'] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: 'switchyard_upstream_retries_total',
      help: 'Requests sent again to another endpoint after a failed attempt.',
      labelNames: ['model', 'variant'] as const,
      registers: [registry],
    }),
    duration: new LeanHistogram({
      name: 'switchyard_upstream_duration_seconds',
      help: 'Time of each upstream attempt, network and runtime together.',
      labelNames: ['model', 'variant'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type OutboundMetrics = ReturnType<typeof createOutboundMetrics>;
