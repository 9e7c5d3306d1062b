import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createRouteMetrics } from '../stages/route/metrics.js';
import { createUpstreamStageMetrics } from '../stages/upstream/metrics.js';
import { createUpstreamMetrics } from '../upstream/index.js';

/** Every gateway metric, registered once per process on its own registry. */
export function createGatewayMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchyard_process_' });
  return {
    registry,
    route: createRouteMetrics(registry),
    upstreamStage: createUpstreamStageMetrics(registry),
    upstreamPool: createUpstreamMetrics(registry),
    requests: new Counter({
      name: 'switchyard_requests_total',
      help: 'Requests answered, by model, variant, version, endpoint and outcome (ok | fallback | client_error | error).',
      labelNames: ['model', 'variant', 'version', 'endpoint', 'outcome'] as const,
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'switchyard_request_duration_seconds',
      help: 'Time from receiving a request to answering it.',
      labelNames: ['model', 'variant', 'outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    configReloads: new Counter({
      name: 'switchyard_config_reload_total',
      help: 'Config reloads by outcome (ok | invalid | error).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    configInfo: new Gauge({
      name: 'switchyard_config_info',
      help: 'The active config: value 1, its hash as a label.',
      labelNames: ['hash'] as const,
      registers: [registry],
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
