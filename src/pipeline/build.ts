import type { Logger } from '../shared/logger.js';
import type { ModelConfig } from '../config/schema.js';
import type { VariantCall } from '../outbound/variant-call.js';
import { createAdmission, type AdmissionDeps } from '../stages/admission/index.js';
import type { Authenticator } from '../stages/auth/authenticate.js';
import { createAuth } from '../stages/auth/index.js';
import { createCache, createCacheLookup } from '../stages/cache/index.js';
import type { CacheMetrics } from '../stages/cache/metrics.js';
import type { CacheStore } from '../stages/cache/store.js';
import { createFallback } from '../stages/fallback/index.js';
import type { FallbackMetrics } from '../stages/fallback/metrics.js';
import { createRespond } from '../stages/respond/index.js';
import { createRoute } from '../stages/route/index.js';
import type { RouteMetrics } from '../stages/route/metrics.js';
import { createShadow, type ShadowDeps } from '../stages/shadow/index.js';
import { createUpstream } from '../stages/upstream/index.js';
import { createValidate, type ValidateDeps } from '../stages/validate/index.js';
import type { DeferredTasks } from '../telemetry/deferred.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import type { PredictionLog } from '../telemetry/prediction-log/index.js';
import type { RolloutController } from '../delivery/controller.js';
import type { DriftTracker } from '../drift/tracker.js';
import {
  guarded,
  driftSample,
  predictionLogRecord,
  requestLogLine,
  requestMetrics,
  rolloutEvidence,
  serverTimingHeader,
} from './after.js';
import { compose, type Pipeline } from './compose.js';

export interface PipelineDeps {
  authenticate: Authenticator;
  admission: AdmissionDeps;
  validate: ValidateDeps;
  route: { metrics: RouteMetrics };
  /** Shadows call through `call`, the model's outbound stack, like the primary. */
  shadow: Omit<ShadowDeps, 'call'>;
  cache: { store: CacheStore; metrics: CacheMetrics; deferred: DeferredTasks } | undefined;
  fallback: { metrics: FallbackMetrics };
  /** The model's outbound stack (src/outbound/stack.ts): primary, fallback variant and shadows share it. */
  call: VariantCall;
  after: { metrics: GatewayMetrics; logger: Logger; predictionLog: PredictionLog; deferred: DeferredTasks };
  /** The model's running rollout, when its config has a policy. */
  rollout: RolloutController | undefined;
  /** The model's drift tracker, when it has a contract and drift is on. */
  drift: DriftTracker | undefined;
}

/** One model's request lifecycle, in the order a request meets it. */
export function buildPipeline(modelName: string, model: ModelConfig, deps: PipelineDeps): Pipeline {
  const { rollout } = deps;
  const { deferred } = deps.after;
  const cache = model.cache && deps.cache ? { config: model.cache, ...deps.cache } : undefined;
  return compose({
    stages: [
      createAuth(deps.authenticate), // who is calling: API key → tenant with the infer scope
      createAdmission(modelName, model, deps.admission), // may it run now: rate limits, concurrency, queue, shed
      createValidate(modelName, model, deps.validate), // is the input well-formed: builds and checks the OIP request
      createRoute(modelName, model, { ...deps.route, ...(rollout ? { rollout } : {}) }), // which variant: murmur3 of the salted user key → weights (a rollout's share)
      ...(model.shadows.length > 0 || rollout
        ? [
            createShadow(modelName, model, {
              ...deps.shadow,
              call: deps.call,
              ...(rollout ? { rollout } : {}),
            }),
          ] // mirror copies, compare later
        : []),
      ...(cache ? [createCache(modelName, cache.config, cache)] : []), // keep good answers (serve them, with serve_hits)
      createFallback(modelName, model, {
        call: deps.call,
        cacheLookup: cache && createCacheLookup(modelName, cache.config, cache.store),
        metrics: deps.fallback.metrics,
      }), // when the model path fails: cache, another variant, a default decision
      createUpstream(deps.call), // the runtime pool: breaker, deadline passed on, budgeted retries
    ],
    respond: createRespond(modelName, model), // the reply as the endpoint's answer, x-switchyard-* headers
    // The answer is decided: a step that throws is counted and logged, and the others still run.
    after: [
      guarded(deferred, 'server_timing', serverTimingHeader()), // where the milliseconds went
      guarded(deferred, 'request_metrics', requestMetrics(deps.after.metrics)), // requests and latency by outcome, each stage's time
      guarded(deferred, 'request_log', requestLogLine(deps.after.logger)), // one line per request
      guarded(deferred, 'prediction_record', predictionLogRecord(deps.after.predictionLog, model, deferred)), // one record per answer, built off the path
      ...(rollout ? [guarded(deferred, 'rollout_evidence', rolloutEvidence(rollout.evidence))] : []), // the rollout's evidence, per side
      ...(deps.drift ? [guarded(deferred, 'drift_sample', driftSample(deps.drift))] : []), // the score and features, into the variant's drift window
    ],
  });
}
