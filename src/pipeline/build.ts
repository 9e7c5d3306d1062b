import type { ModelConfig } from '../config/schema.js';
import type { Authenticator } from '../stages/auth/authenticate.js';
import { createAuth } from '../stages/auth/index.js';
import { createRespond } from '../stages/respond/index.js';
import { createRoute } from '../stages/route/index.js';
import type { RouteMetrics } from '../stages/route/metrics.js';
import { createUpstream, type UpstreamDeps } from '../stages/upstream/index.js';
import { createValidate } from '../stages/validate/index.js';
import { compose, type Pipeline } from './compose.js';

export interface PipelineDeps {
  authenticate: Authenticator;
  route: { metrics: RouteMetrics };
  upstream: UpstreamDeps;
}

/** One model's stages, in the order a request meets them. */
export function buildPipeline(modelName: string, model: ModelConfig, deps: PipelineDeps): Pipeline {
  return compose([
    createRespond(modelName, model), // on the way out: the endpoint's answer and x-switchyard-* headers
    createAuth(deps.authenticate), // who is calling: API key → tenant with the infer scope
    createValidate(modelName, model), // is the input well-formed: builds the OIP request to send
    createRoute(modelName, model, deps.route), // which variant: murmur3 of the salted user key → weights
    createUpstream(modelName, model, deps.upstream), // the runtime pool: deadline passed on, retried elsewhere
  ]);
}
