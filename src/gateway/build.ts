import type { Redis } from 'ioredis';
import type { ConfigSnapshot } from '../config/load.js';
import type { ModelConfig } from '../config/schema.js';
import type { Pipeline } from '../pipeline/compose.js';
import { buildPipeline } from '../pipeline/build.js';
import { createAuthenticator, type Authenticator } from '../stages/auth/authenticate.js';
import { createJwtVerifier } from '../stages/auth/jwt.js';
import { RedisCacheStore } from '../stages/cache/redis-store.js';
import { createVariantCall, guardedCall } from '../stages/upstream/index.js';
import type { MetadataRegistry } from '../stages/validate/metadata.js';
import type { Limiter } from '../state/limiter.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import { shadowRecord, type PredictionLog } from '../telemetry/prediction-log/index.js';
import type { Logger } from '../shared/logger.js';
import { createUpstreamPool, type UpstreamPool } from '../upstream/index.js';
import type { ModelStates } from './model-state.js';

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

/** What outlives config versions: built once per process. */
export interface BuildDeps {
  metrics: GatewayMetrics;
  logger: Logger;
  models: ModelStates;
  limiter: Limiter;
  metadata: MetadataRegistry;
  /** Set when state.redis_url is: the result cache is then shared by every replica. */
  redis: Redis | undefined;
  /** Where shadow outcomes are recorded (prediction records are written by the HTTP handler). */
  predictionLog?: PredictionLog;
  /** The running version, whose pools are kept when their upstream's config is unchanged. */
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
  const redisCache = deps.redis
    ? new RedisCacheStore(deps.redis, (error) =>
        deps.logger.warn({ err: error }, 'result cache in Redis failed'),
      )
    : undefined;
  const authenticate = createAuthenticator(
    config.tenants,
    config.auth.jwt ? createJwtVerifier(config.auth.jwt, config.tenants) : undefined,
  );
  const models = new Map<string, BuiltModel>();
  const { predictionLog } = deps;
  for (const [name, model] of Object.entries(config.models)) {
    const state = deps.models.get(name, model);
    const call = createVariantCall(name, model, {
      pools,
      metrics: deps.metrics.upstreamStage,
      latency: state.latency,
      retryBudget: () => state.retryBudget,
    });
    const first = model.variants[0]!;
    const firstPool = pools.get(first.upstream);
    const cacheStore = redisCache ?? state.cache;
    models.set(name, {
      config: model,
      pipeline: buildPipeline(name, model, {
        authenticate,
        admission: {
          limiter: deps.limiter,
          gate: state.gate,
          latency: state.latency,
          metrics: deps.metrics.admission,
        },
        validate: {
          metadata: firstPool ? deps.metadata.source(firstPool, first.model, first.version) : undefined,
          logger: deps.logger,
        },
        route: { metrics: deps.metrics.route },
        shadow: {
          call: guardedCall(call, (variant) => state.breakers.get(variant)),
          stats: state.shadows,
          metrics: deps.metrics.shadow,
          logger: deps.logger,
          metadataOf: (shadow) => {
            const pool = pools.get(shadow.upstream);
            return pool ? deps.metadata.source(pool, shadow.model, shadow.version) : undefined;
          },
          ...(predictionLog ? { report: (report) => predictionLog.write(() => shadowRecord(report)) } : {}),
        },
        cache: cacheStore ? { store: cacheStore, metrics: deps.metrics.cache } : undefined,
        fallback: { metrics: deps.metrics.fallback },
        call: guardedCall(call, (variant) => state.breakers.get(variant)),
      }),
    });
  }
  return { snapshot, authenticate, models, pools, inFlight: 0 };
}
