import type { ModelConfig } from '../config/schema.js';
import { createAdmission, type AdmissionDeps } from '../stages/admission/index.js';
import type { Authenticator } from '../stages/auth/authenticate.js';
import { createAuth } from '../stages/auth/index.js';
import { createCache } from '../stages/cache/index.js';
import type { CacheMetrics } from '../stages/cache/metrics.js';
import type { CacheStore } from '../stages/cache/store.js';
import { createFallback } from '../stages/fallback/index.js';
import type { FallbackMetrics } from '../stages/fallback/metrics.js';
import { createRespond } from '../stages/respond/index.js';
import { createRoute } from '../stages/route/index.js';
import type { RouteMetrics } from '../stages/route/metrics.js';
import { createShadow, type ShadowDeps } from '../stages/shadow/index.js';
import { createUpstream } from '../stages/upstream/index.js';
import type { VariantCall } from '../stages/upstream/variant-call.js';
import { createValidate, type ValidateDeps } from '../stages/validate/index.js';
import { compose, type Pipeline } from './compose.js';
import type { NamedStage } from './stage.js';

export interface PipelineDeps {
  authenticate: Authenticator;
  admission: AdmissionDeps;
  validate: ValidateDeps;
  route: { metrics: RouteMetrics };
  shadow: ShadowDeps;
  cache: { store: CacheStore; metrics: CacheMetrics } | undefined;
  fallback: { metrics: FallbackMetrics };
  /** Calls a variant through its breaker; the primary call and the variant fallback share it. */
  call: VariantCall;
}

/** One model's stages, in the order a request meets them. */
export function buildPipeline(modelName: string, model: ModelConfig, deps: PipelineDeps): Pipeline {
  const stages: (NamedStage | undefined)[] = [
    createRespond(modelName, model), // on the way out: the endpoint's answer and x-switchyard-* headers
    createAuth(deps.authenticate), // who is calling: API key → tenant with the infer scope
    createAdmission(modelName, model, deps.admission), // may it run now: rate limits, concurrency, queue, shed
    createValidate(modelName, model, deps.validate), // is the input well-formed: builds and checks the OIP request
    createRoute(modelName, model, deps.route), // which variant: murmur3 of the salted user key → weights
    model.shadows.length > 0 ? createShadow(modelName, model, deps.shadow) : undefined, // mirror copies, compare later
    model.cache && deps.cache ? createCache(modelName, model.cache, deps.cache) : undefined, // keep good answers
    createFallback(modelName, model, {
      call: deps.call,
      cache: deps.cache?.store,
      metrics: deps.fallback.metrics,
    }), // when the model path fails
    createUpstream(deps.call), // the runtime pool: breaker, deadline passed on, budgeted retries
  ];
  return compose(stages.filter((stage): stage is NamedStage => stage !== undefined));
}
