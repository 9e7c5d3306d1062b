import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Redis, Result } from 'ioredis';
import { silentLogger, type Logger } from '../shared/logger.js';
import { OutageLog } from '../shared/outage-log.js';
import { checkLimits, type FailureMode, type LimitDecision, type Limiter } from './limiter.js';
import { createMemoryLimiter } from './memory-limiter.js';
import type { StateMetrics } from './metrics.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    switchyardRateLimit(
      key: string,
      rps: number,
      burst: number,
      marginMs: number,
    ): Result<[allowed: number, remaining: number, resetMs: number, retryAfterMs: number], Context>;
    switchyardHeartbeat(key: string, replicaId: string, windowMs: number): Result<number, Context>;
  }
}

export const RATE_LIMIT_KEY_PREFIX = 'switchyard:rl:';
export const REPLICAS_KEY = 'switchyard:replicas';

/**
 * One token bucket check, atomically. Time comes from the Redis server (TIME), so replicas'
 * clocks never enter the arithmetic. State is a hash {tokens, ts (µs)}; it expires a margin
 * after it would be full again, and an expired bucket is exactly a full one, so expiry loses
 * nothing. Numbers go to HSET as Lua numbers, which Redis writes with full precision (tostring
 * would round the µs timestamp to 14 digits); Lua numbers become Redis integers on return, so
 * only whole values come back.
 */
const RATE_LIMIT_LUA = `
-- Before Redis 5 a script that read TIME could not write unless it asked for effects replication.
redis.replicate_commands()
local rps = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local eps = 1e-9
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
elseif now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rps / 1000000)
else
  tokens = math.min(burst, tokens)
end
local allowed = 0
if tokens >= 1 - eps then
  allowed = 1
  tokens = math.max(0, tokens - 1)
end
local refill_ms = (burst - tokens) * 1000 / rps
local retry_ms = 0
if allowed == 0 then retry_ms = math.ceil((1 - tokens) * 1000 / rps - eps) end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(refill_ms) + tonumber(ARGV[3]))
return {allowed, math.floor(tokens + eps), math.max(0, math.ceil(refill_ms - eps)), retry_ms}
`;

/**
 * Registers this replica and counts the live ones, on the server's clock so a replica with a
 * skewed clock neither prunes the others early nor lingers.
 */
const HEARTBEAT_LUA = `
redis.replicate_commands()
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
redis.call('PEXPIRE', KEYS[1], window)
return redis.call('ZCARD', KEYS[1])
`;

export interface RedisLimiterOptions {
  /** What to do when Redis errors or times out. Default 'open'. */
  failure_mode?: FailureMode;
  /** How often this replica announces itself and counts the others. Default 1000 ms. */
  heartbeat_ms?: number;
  /** Unique per limiter; default host:pid:random, so two limiters in one process are two replicas. */
  replica_id?: string;
  /**
   * After a failure, how long calls decide locally before one call probes Redis again. Keeps a
   * hung Redis from adding a command timeout to every request. Default 250 ms.
   */
  probe_interval_ms?: number;
  /** Added to the bucket's time-to-full for its PEXPIRE. Default 1000 ms. */
  expiry_margin_ms?: number;
  metrics?: StateMetrics;
  logger?: Logger;
}

export interface RedisLimiter extends Limiter {
  /** Live replicas as last counted through the heartbeat; 1 until the first one succeeds. */
  replicaCount(): number;
  /** Whether the last use of Redis succeeded (what `switchyard_state_redis_up` shows). */
  isRedisUp(): boolean;
}

/** While Redis is down and the mode is closed, when a client should try again. */
const FAIL_CLOSED_RETRY_MS = 1000;
const REPLY_ERROR_LOG_INTERVAL_MS = 10_000;

/** An error Redis sent back, as opposed to not answering (timeout, connection lost). */
function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

/**
 * A token bucket per key held in Redis, so N replicas sharing one Redis enforce one limit.
 *
 * The client should come from `createRedisClient` (auto-pipelining, short command timeout, no
 * offline queue, fast reconnect): this limiter never waits for a connection, it decides locally
 * the moment Redis is not ready. In fail-open mode the local decision uses a bucket holding this
 * replica's share of the limit (rps/replicas, burst/replicas, at least 1 token), so the fleet as
 * a whole still admits about the configured rate while Redis is away.
 */
export function createRedisLimiter(redis: Redis, options: RedisLimiterOptions = {}): RedisLimiter {
  const failureMode = options.failure_mode ?? 'open';
  const heartbeatMs = options.heartbeat_ms ?? 1000;
  const replicaId = options.replica_id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const probeIntervalMs = options.probe_interval_ms ?? 250;
  const expiryMarginMs = options.expiry_margin_ms ?? 1000;
  const logger = options.logger ?? silentLogger;
  const metrics = options.metrics;
  const tally = metrics?.decisionTally;
  // Given no metrics on purpose: this limiter counts the fallback's decisions as fail_open.
  const local = createMemoryLimiter();

  redis.defineCommand('switchyardRateLimit', { numberOfKeys: 1, lua: RATE_LIMIT_LUA });
  redis.defineCommand('switchyardHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_LUA });

  let replicas = 1;
  let up = redis.status === 'ready';
  let probeAtMs = 0;
  let probing = false;
  let closed = false;
  metrics?.redisUp.set(up ? 1 : 0);

  // One line when Redis goes, the checks decided locally every 10 s while it is away, one when
  // it is back: during an outage every check fails the same way.
  const outage = new OutageLog(logger, {
    subject: 'rate limiter',
    consequence: failureMode === 'open' ? "failing open with this replica's share" : 'failing closed',
    unit: 'checks',
    fields: () => ({ replicaId, replicas, failureMode }),
  });

  function markUp(): void {
    if (up) return;
    up = true;
    metrics?.redisUp.set(1);
    if (outage.down) outage.recovered();
    else logger.info({ replicaId, replicas }, 'rate limiter: Redis reachable, shared limits');
  }

  function markDown(error: unknown): void {
    probeAtMs = performance.now() + probeIntervalMs;
    if (up) {
      up = false;
      metrics?.redisUp.set(0);
    }
    // Also when it never came up (unreachable from the start): logged once per outage.
    outage.failed(error, 0);
  }

  let replyErrorLoggedAtMs = -Infinity;
  /**
   * Redis answered with an error (say WRONGTYPE: something else wrote to a bucket's key). The
   * server is up, so this request alone takes the failure mode and the rest stay shared.
   */
  function replyErrorSeen(key: string, error: Error): void {
    const nowMs = performance.now();
    if (nowMs - replyErrorLoggedAtMs < REPLY_ERROR_LOG_INTERVAL_MS) return;
    replyErrorLoggedAtMs = nowMs;
    logger.error({ replicaId, key, err: error.message }, 'rate limiter: Redis refused the check');
  }

  const onReady = (): void => markUp();
  const onClose = (): void => markDown(new Error('connection closed'));
  redis.on('ready', onReady);
  redis.on('close', onClose);

  function fallback(key: string, rps: number, burst: number): LimitDecision {
    // Not a reply error (Redis answered): a check Redis's absence decided here.
    if (!up) outage.affected();
    if (failureMode === 'closed') {
      if (tally) tally.fail_closed++;
      return {
        allowed: false,
        limit: burst,
        remaining: 0,
        resetMs: FAIL_CLOSED_RETRY_MS,
        retryAfterMs: FAIL_CLOSED_RETRY_MS,
        outcome: 'fail_closed',
      };
    }
    if (tally) tally.fail_open++;
    return local.decide(key, rps / replicas, Math.max(1, burst / replicas), 'fail_open');
  }

  async function take(key: string, rps: number, burst: number): Promise<LimitDecision> {
    checkLimits(rps, burst);
    // Not connected: ioredis would reject at once anyway (no offline queue); skipping the call
    // saves building a command and an Error per request during an outage.
    if (redis.status !== 'ready') return fallback(key, rps, burst);
    let isProbe = false;
    if (!up) {
      // Connected but failing (a hung or overloaded server): one caller at a time probes, the
      // rest decide locally instead of each waiting out the command timeout.
      if (probing || performance.now() < probeAtMs) return fallback(key, rps, burst);
      probing = isProbe = true;
    }
    try {
      const [allowed, remaining, resetMs, retryAfterMs] = await redis.switchyardRateLimit(
        RATE_LIMIT_KEY_PREFIX + key,
        rps,
        burst,
        expiryMarginMs,
      );
      markUp();
      const outcome = allowed === 1 ? 'ok' : 'over_limit';
      if (tally) tally[outcome]++;
      return { allowed: allowed === 1, limit: burst, remaining, resetMs, retryAfterMs, outcome };
    } catch (error) {
      if (isReplyError(error)) replyErrorSeen(key, error);
      else markDown(error);
      return fallback(key, rps, burst);
    } finally {
      if (isProbe) probing = false;
    }
  }

  async function heartbeat(): Promise<void> {
    if (redis.status !== 'ready') return;
    try {
      replicas = Math.max(1, await redis.switchyardHeartbeat(REPLICAS_KEY, replicaId, heartbeatMs * 3));
      markUp();
    } catch (error) {
      // The last known count stays: it is exactly what the fail-open share needs during an outage.
      markDown(error);
    }
  }

  void heartbeat();
  const timer = setInterval(() => void heartbeat(), heartbeatMs);
  timer.unref();

  return {
    take,
    replicaCount: () => replicas,
    isRedisUp: () => up,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      redis.off('ready', onReady);
      redis.off('close', onClose);
      await local.close();
      if (redis.status === 'ready') {
        // Best effort: without it the others still drop this replica after three heartbeats.
        await redis.zrem(REPLICAS_KEY, replicaId).catch(() => undefined);
      }
    },
  };
}
