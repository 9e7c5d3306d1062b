import type { Registry } from 'prom-client';
import { LeanCounter, LeanHistogram } from '../../telemetry/lean-metrics.js';

export function createShadowMetrics(registry: Registry) {
  const labelNames = ['model', 'variant', 'shadow'] as const;
  return {
    requests: new LeanCounter({
      name: 'switchyard_shadow_requests_total',
      help: 'Mirrored requests by model, primary variant, shadow and outcome (ok | error | dropped).',
      labelNames: [...labelNames, 'outcome'] as const,
      registers: [registry],
    }),
    comparisons: new LeanCounter({
      name: 'switchyard_shadow_comparisons_total',
      help: 'Primary and shadow answers compared, by agreement (agree | disagree).',
      labelNames: [...labelNames, 'agreement'] as const,
      registers: [registry],
    }),
    scoreDelta: new LeanHistogram({
      name: 'switchyard_shadow_score_delta',
      help: 'Absolute difference between the primary and the shadow score.',
      labelNames,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1],
      registers: [registry],
    }),
    duration: new LeanHistogram({
      name: 'switchyard_shadow_duration_seconds',
      help: 'Latency of mirrored calls.',
      labelNames,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    batchRows: new LeanHistogram({
      name: 'switchyard_shadow_batch_rows',
      help: 'Rows per mirrored call: copies that shared a call, or one copy alone.',
      labelNames: ['model', 'shadow'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
  };
}

export type ShadowMetrics = ReturnType<typeof createShadowMetrics>;
