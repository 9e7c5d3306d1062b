import { Counter, Gauge, Registry } from 'prom-client';
import { collectProcessMetrics } from '../shared/process-metrics.js';
import type { ModelStates } from '../gateway/model-state.js';
import { createAdmissionMetrics } from '../stages/admission/metrics.js';
import { createCacheMetrics } from '../stages/cache/metrics.js';
import { createFallbackMetrics } from '../stages/fallback/metrics.js';
import { createShadowMetrics } from '../stages/shadow/metrics.js';
import { createStateMetrics } from '../ratelimit/metrics.js';
import { createRouteMetrics } from '../stages/route/metrics.js';
import { createDeliveryMetrics } from '../delivery/metrics.js';
import { createDriftMetrics } from '../drift/metrics.js';
import { createOutboundMetrics } from '../outbound/metrics.js';
import { createUpstreamMetrics } from '../runtime-pool/index.js';
import { createRefusalCounter } from '../shared/http/refusal.js';
import { registerLogSinkMetrics } from '../shared/log-sink-metrics.js';
import { LeanCounter, LeanHistogram, type HistogramChild } from './lean-metrics.js';

/** Every gateway metric, registered once per process on its own registry. */
export function createGatewayMetrics(models: ModelStates) {
  const registry = new Registry();
  collectProcessMetrics(registry, 'switchyard_process_');
  const drift = createDriftMetrics(registry);
  registerLogSinkMetrics(registry, 'switchyard');
  return {
    registry,
    admission: createAdmissionMetrics(registry, () => models.gates()),
    state: createStateMetrics(registry),
    cache: createCacheMetrics(registry),
    fallback: createFallbackMetrics(registry),
    shadow: createShadowMetrics(registry),
    breakerState: new Gauge({
      name: 'switchyard_breaker_state',
      help: 'Circuit breaker of each variant and shadow: 0 closed, 1 half-open, 2 open.',
      labelNames: ['model', 'variant'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { model, variant, state } of models.breakerStates()) {
          this.set({ model, variant }, state === 'open' ? 2 : state === 'half_open' ? 1 : 0);
        }
      },
    }),
    route: createRouteMetrics(registry),
    outbound: createOutboundMetrics(registry),
    delivery: createDeliveryMetrics(registry, drift),
    drift,
    upstreamPool: createUpstreamMetrics(registry),
    requests: new LeanCounter({
      name: 'switchyard_requests_total',
      help: 'Requests answered, by model, variant, version, endpoint and outcome (ok | fallback | client_error | error).',
      labelNames: ['model', 'variant', 'version', 'endpoint', 'outcome'] as const,
      registers: [registry],
    }),
    requestDuration: new LeanHistogram({
      name: 'switchyard_request_duration_seconds',
      help: 'Time from receiving a request to answering it, by model, variant, version and outcome.',
      labelNames: ['model', 'variant', 'version', 'outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    stageDuration: createStageDuration(registry),
    httpRefused: createRefusalCounter(registry, 'switchyard_http_refused_total'),
    configReloads: new Counter({
      name: 'switchyard_config_reload_total',
      help: 'Config reloads by outcome (ok | invalid | error).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    deferredFailures: new Counter({
      name: 'switchyard_deferred_failures_total',
      help: "Failures in work done on a request's behalf after its answer was decided (src/telemetry/deferred.ts), by task: counted and logged, never fatal.",
      labelNames: ['task'] as const,
      registers: [registry],
    }),
    configInfo: new Gauge({
      name: 'switchyard_config_info',
      help: 'The active config: value 1, its hash (effective settings) and file_hash (the file as written) as labels.',
      labelNames: ['hash', 'file_hash'] as const,
      registers: [registry],
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

/**
 * Each stage's own time (exclusive of the stages after it, as in `server-timing`). The label
 * children of a pipeline are bound the first time it answers, so a request costs one bucket
 * search per stage and no label hashing.
 */
function createStageDuration(registry: Registry) {
  const histogram = new LeanHistogram({
    name: 'switchyard_stage_duration_seconds',
    help: "Each pipeline stage's own time per request (later stages excluded), by model and stage.",
    labelNames: ['model', 'stage'] as const,
    buckets: [
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
      0.5, 1,
    ],
    registers: [registry],
  });
  // Keyed by the pipeline's own stageNames array: one per model and config version.
  const bound = new WeakMap<readonly string[], HistogramChild[]>();
  return {
    observe(model: string, stageNames: readonly string[], stageMs: Float64Array): void {
      let children = bound.get(stageNames);
      if (!children) {
        children = stageNames.map((stage) => histogram.labels({ model, stage }));
        bound.set(stageNames, children);
      }
      for (let i = 0; i < children.length; i++) {
        // 0 means the stage never ran (an earlier one answered): not a 0 s observation.
        if (stageMs[i]! > 0) children[i]!.observe(stageMs[i]! / 1000);
      }
    },
  };
}
