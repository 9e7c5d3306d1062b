import { Counter, type Registry } from 'prom-client';

export function createFallbackMetrics(registry: Registry) {
  return {
    fallbacks: new Counter({
      name: 'switchyard_fallbacks_total',
      help: 'Answers given by a fallback, by model, the variant that failed, fallback kind (cache | variant | default) and reason.',
      labelNames: ['model', 'variant', 'kind', 'reason'] as const,
      registers: [registry],
    }),
  };
}

export type FallbackMetrics = ReturnType<typeof createFallbackMetrics>;
