export {
  createUpstreamPool,
  type UpstreamPool,
  type UpstreamPoolDeps,
  type DrainResult,
  type Leased,
} from './pool.js';
export { endpointOrigin } from './endpoint.js';
export type { Endpoint, EndpointStatus, Outcome, HealthState, DrainReason } from './endpoint.js';
export { createP2cBalancer, type Balancer, type RandomSource } from './balancer.js';
export { createUpstreamMetrics, type UpstreamMetrics } from './metrics.js';
export * from './config.js';
