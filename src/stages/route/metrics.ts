import type { Registry } from 'prom-client';
import { LeanCounter } from '../../telemetry/lean-metrics.js';

export function createRouteMetrics(registry: Registry) {
  return {
    assignments: new LeanCounter({
      name: 'switchyard_route_assignments_total',
      help: 'Requests assigned to each variant; source is key (hashed user key), random (no key), forced (debug header) or pinned (a version in the URL).',
      labelNames: ['model', 'variant', 'source'] as const,
      registers: [registry],
    }),
  };
}

export type RouteMetrics = ReturnType<typeof createRouteMetrics>;
