import type { ConfigSnapshot } from '../config/load.js';
import type { ModelConfig } from '../config/schema.js';
import type { Pipeline } from '../pipeline/compose.js';
import { buildPipeline } from '../pipeline/build.js';
import { createAuthenticator, type Authenticator } from '../stages/auth/authenticate.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import { createUpstreamPool, type UpstreamLogger, type UpstreamPool } from '../upstream/index.js';

export interface BuiltModel {
  config: ModelConfig;
  pipeline: Pipeline;
}

/** Everything one config version serves with. Immutable once built; a reload builds another. */
export interface BuiltGateway {
  readonly snapshot: ConfigSnapshot;
  readonly authenticate: Authenticator;
  readonly models: ReadonlyMap<string, BuiltModel>;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
  /** Requests running on this version; the version's own pools close when it drops to 0 after a swap. */
  inFlight: number;
}

export interface BuildDeps {
  metrics: GatewayMetrics;
  logger: UpstreamLogger;
  /** The running version's pools, kept when their upstream's config is unchanged. */
  previous?: BuiltGateway;
}

export function buildGateway(snapshot: ConfigSnapshot, deps: BuildDeps): BuiltGateway {
  const { config } = snapshot;
  const pools = new Map<string, UpstreamPool>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const kept = deps.previous?.pools.get(name);
    if (kept?.sameConfig(upstream)) {
      pools.set(name, kept);
    } else {
      const pool = createUpstreamPool(name, upstream, {
        logger: deps.logger,
        metrics: deps.metrics.upstreamPool,
      });
      void pool.start();
      pools.set(name, pool);
    }
  }
  const authenticate = createAuthenticator(config.tenants);
  const models = new Map<string, BuiltModel>();
  for (const [name, model] of Object.entries(config.models)) {
    models.set(name, {
      config: model,
      pipeline: buildPipeline(name, model, {
        authenticate,
        route: { metrics: deps.metrics.route },
        upstream: { pools, metrics: deps.metrics.upstreamStage },
      }),
    });
  }
  return { snapshot, authenticate, models, pools, inFlight: 0 };
}

/** Pools of `old` that `current` does not use, to close once `old` has no request in flight. */
export function retiredPools(old: BuiltGateway, current: BuiltGateway): UpstreamPool[] {
  const kept = new Set(current.pools.values());
  return [...old.pools.values()].filter((pool) => !kept.has(pool));
}
