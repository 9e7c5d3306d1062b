import { Counter, Gauge, type Registry } from 'prom-client';
import type { AdmissionGate } from './gate.js';

export function createAdmissionMetrics(registry: Registry, gates: () => Iterable<[string, AdmissionGate]>) {
  return {
    shed: new Counter({
      name: 'switchyard_admission_shed_total',
      help: 'Requests shed before reaching a runtime, by model, tenant priority and reason (queue_full | budget | displaced).',
      labelNames: ['model', 'priority', 'reason'] as const,
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'switchyard_admission_rate_limited_total',
      help: 'Requests refused with 429, by model and limit (tenant | tenant_model).',
      labelNames: ['model', 'limit'] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'switchyard_admission_queue_depth',
      help: 'Requests waiting for a concurrency slot, by model.',
      labelNames: ['model'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [model, gate] of gates()) this.set({ model }, gate.queued);
      },
    }),
    inFlight: new Gauge({
      name: 'switchyard_admission_in_flight',
      help: 'Requests past admission and not yet answered, by model.',
      labelNames: ['model'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [model, gate] of gates()) this.set({ model }, gate.inFlight);
      },
    }),
  };
}

export type AdmissionMetrics = ReturnType<typeof createAdmissionMetrics>;
