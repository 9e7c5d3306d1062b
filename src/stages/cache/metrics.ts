import { Counter, type Registry } from 'prom-client';

export function createCacheMetrics(registry: Registry) {
  return {
    lookups: new Counter({
      name: 'switchyard_cache_lookups_total',
      help: 'Result cache lookups before calling the model (serve_hits), by model and outcome (hit | miss).',
      labelNames: ['model', 'outcome'] as const,
      registers: [registry],
    }),
    stores: new Counter({
      name: 'switchyard_cache_stores_total',
      help: 'Answers written to the result cache, by model.',
      labelNames: ['model'] as const,
      registers: [registry],
    }),
  };
}

export type CacheMetrics = ReturnType<typeof createCacheMetrics>;
