import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logger.js';
import type { FailureMode, Limiter } from './limiter.js';
import { createMemoryLimiter } from './memory-limiter.js';
import type { StateMetrics } from './metrics.js';
import { closeRedisClient, createRedisClient } from './redis-client.js';
import { createRedisLimiter } from './redis-limiter.js';

export type { FailureMode, LimitDecision, LimitOutcome, Limiter } from './limiter.js';
export { createMemoryLimiter, type MemoryLimiter, type MemoryLimiterOptions } from './memory-limiter.js';
export { createStateMetrics, type StateMetrics } from './metrics.js';
export { closeRedisClient, createRedisClient, type RedisClientOptions } from './redis-client.js';
export { createRedisLimiter, type RedisLimiter, type RedisLimiterOptions } from './redis-limiter.js';

export interface StateConfig {
  /** Empty: everything stays in this process (one replica). */
  redis_url: string;
  failure_mode?: FailureMode;
  command_timeout_ms?: number;
  heartbeat_ms?: number;
  auto_pipelining?: boolean;
}

export interface StateDeps {
  metrics?: StateMetrics;
  logger?: Logger;
}

export interface State {
  limiter: Limiter;
  /** The shared client, for the cache and the prediction-log stream; absent without Redis. */
  redis?: Redis;
  close(): Promise<void>;
}

/**
 * The state layer for one process. The client connects in the background; until it is ready
 * the limiter applies the failure mode, so a gateway that must not serve unlimited traffic at
 * start can wait for `redis` to emit 'ready' before it reports ready itself.
 */
export function createState(config: StateConfig, deps: StateDeps = {}): State {
  if (!config.redis_url) {
    const limiter = createMemoryLimiter({ metrics: deps.metrics });
    return { limiter, close: () => limiter.close() };
  }
  const redis = createRedisClient(config.redis_url, {
    command_timeout_ms: config.command_timeout_ms,
    auto_pipelining: config.auto_pipelining,
    logger: deps.logger,
  });
  const limiter = createRedisLimiter(redis, {
    failure_mode: config.failure_mode,
    heartbeat_ms: config.heartbeat_ms,
    metrics: deps.metrics,
    logger: deps.logger,
  });
  return {
    limiter,
    redis,
    async close() {
      await limiter.close();
      await closeRedisClient(redis);
    },
  };
}
