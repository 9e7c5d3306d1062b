import type { Redis } from 'ioredis';
import type { ConfigSnapshot } from '../config/load.js';
import type { ModelConfig } from '../config/schema.js';
import { createOutboundCall } from '../outbound/stack.js';
import type { CallTarget } from '../outbound/variant-call.js';
import type { RolloutRegistry } from '../delivery/registry.js';
import type { DriftReference } from '../drift/reference.js';
import type { DriftRegistry } from '../drift/registry.js';
import type { Pipeline } from '../pipeline/compose.js';
import { buildPipeline } from '../pipeline/build.js';
import { createAuthenticator, type Authenticator } from '../stages/auth/authenticate.js';
import { createJwtVerifier } from '../stages/auth/jwt.js';
import { RedisCacheStore } from '../stages/cache/redis-store.js';
import type { MetadataRegistry, MetadataSource } from '../stages/validate/metadata.js';
import type { Limiter } from '../ratelimit/limiter.js';
import type { DeferredTasks } from '../telemetry/deferred.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import { shadowRecord, type PredictionLog } from '../telemetry/prediction-log/index.js';
import type { Logger } from '../shared/logger.js';
import { createUpstreamPool, type UpstreamPool } from '../runtime-pool/index.js';
import type { ModelStates, PreparedModelState } from './model-state.js';

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

/**
 * A built version not yet serving. Building changed nothing the running version uses; `apply`
 * does, all at once, right before the version is swapped in: each model's limits, retry budget,
 * cache and breakers take the new config, and the new pools start. A version that is never
 * applied is `discard`ed: its new pools close.
 */
export interface GatewayBuild {
  readonly gateway: BuiltGateway;
  apply(): void;
  discard(): Promise<void>;
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
  /** One record per answered request, and the shadows' outcomes. */
  predictionLog: PredictionLog;
  /** Runs what is done on a request's behalf after its answer, so that it can fail safely. */
  deferred: DeferredTasks;
  /** The running rollouts, kept across versions while their policy is unchanged. */
  rollouts: RolloutRegistry;
  /** The drift trackers, kept across versions while their contract and reference are unchanged. */
  drift: DriftRegistry;
  /** The running version, whose pools are kept when their upstream's config is unchanged. */
  previous?: BuiltGateway;
}

/** Builds a config version; throws when it cannot be served, having changed nothing. */
export function buildGateway(snapshot: ConfigSnapshot, deps: BuildDeps): GatewayBuild {
  const { config } = snapshot;
  const pools = new Map<string, UpstreamPool>();
  const newPools: UpstreamPool[] = [];
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const kept = deps.previous?.pools.get(name);
    if (kept?.sameConfig(upstream)) {
      pools.set(name, kept);
    } else {
      const pool = createUpstreamPool(name, upstream, {
        logger: deps.logger,
        metrics: deps.metrics.upstreamPool,
      });
      pools.set(name, pool);
      newPools.push(pool);
    }
  }
  const discard = async (): Promise<void> => {
    await Promise.all(newPools.map((pool) => pool.close()));
  };
  try {
    const prepared: PreparedModelState[] = [];
    const onApply: (() => void)[] = [];
    const authenticate = createAuthenticator(
      config.tenants,
      config.auth.jwt ? createJwtVerifier(config.auth.jwt, config.tenants) : undefined,
    );
    const models = buildModels(config.models, pools, prepared, onApply, {
      ...deps,
      authenticate,
      driftReferences: snapshot.driftReferences,
    });
    const gateway: BuiltGateway = {
      snapshot,
      authenticate,
      models,
      pools,
      inFlight: 0,
    };
    return {
      gateway,
      apply() {
        for (const state of prepared) state.apply();
        for (const pool of newPools) void pool.start();
        for (const step of onApply) step();
        deps.rollouts.retain(Object.keys(config.models));
        deps.drift.retain(Object.keys(config.models));
      },
      discard,
    };
  } catch (error) {
    void discard();
    throw error;
  }
}

function buildModels(
  models: Record<string, ModelConfig>,
  pools: ReadonlyMap<string, UpstreamPool>,
  prepared: PreparedModelState[],
  onApply: (() => void)[],
  deps: BuildDeps & {
    authenticate: Authenticator;
    driftReferences: ReadonlyMap<string, DriftReference> | undefined;
  },
): Map<string, BuiltModel> {
  const { predictionLog, authenticate } = deps;
  const redisCache = deps.redis ? new RedisCacheStore(deps.redis, deps.logger) : undefined;
  // The runtime's metadata is fetched through the pool, once the version is applied.
  const metadataSource = (pool: UpstreamPool, model: string, version: string): MetadataSource => {
    let source: MetadataSource | undefined;
    onApply.push(() => {
      source = deps.metadata.source(pool, model, version);
    });
    return { current: () => source?.current() };
  };
  const built = new Map<string, BuiltModel>();
  for (const [name, model] of Object.entries(models)) {
    const state = deps.models.prepare(name, model);
    prepared.push(state);
    const rollout = deps.rollouts.prepare(name, model);
    onApply.push(rollout.apply);
    // Every target's answers are checked against its own model version's metadata.
    const targetMetadata = new Map<string, MetadataSource>();
    const targetKey = (t: CallTarget) => `${t.upstream}\n${t.model}\n${t.version}`;
    for (const target of [...model.variants, ...(model.shadows ?? [])]) {
      const pool = pools.get(target.upstream);
      if (pool && !targetMetadata.has(targetKey(target)))
        targetMetadata.set(targetKey(target), metadataSource(pool, target.model, target.version));
    }
    const drift = deps.drift.prepare(name, model, deps.driftReferences?.get(name));
    onApply.push(drift.apply);
    const call = createOutboundCall(name, model, {
      pools,
      metrics: deps.metrics.outbound,
      latency: state.latency,
      retryBudget: state.retryBudget,
      breakerOf: state.breakerOf,
      metadataOf: (target) => targetMetadata.get(targetKey(target))?.current(),
    });
    const first = model.variants[0]!;
    const firstPool = pools.get(first.upstream);
    const cacheStore = redisCache ?? state.cache;
    built.set(name, {
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
          metadata: firstPool ? metadataSource(firstPool, first.model, first.version) : undefined,
          logger: deps.logger,
        },
        route: { metrics: deps.metrics.route },
        shadow: {
          stats: state.shadows,
          metrics: deps.metrics.shadow,
          logger: deps.logger,
          deferred: deps.deferred,
          metadataOf: (shadow) => {
            const pool = pools.get(shadow.upstream);
            return pool ? metadataSource(pool, shadow.model, shadow.version) : undefined;
          },
          report: (report) => {
            predictionLog.write(() => shadowRecord(report));
            if (report.shadow.name === model.rollout?.candidate)
              rollout.controller?.evidence.recordComparison(report);
          },
        },
        cache: cacheStore
          ? { store: cacheStore, metrics: deps.metrics.cache, deferred: deps.deferred }
          : undefined,
        fallback: { metrics: deps.metrics.fallback },
        call,
        after: { metrics: deps.metrics, logger: deps.logger, predictionLog, deferred: deps.deferred },
        rollout: rollout.controller,
        drift: drift.tracker,
      }),
    });
  }
  return built;
}
