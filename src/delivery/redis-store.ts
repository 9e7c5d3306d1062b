import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { LATENCY_SAMPLES } from './evidence.js';
import { evidenceFields, evidenceFromFields } from './evidence-fields.js';
import {
  leaseMsFor,
  policyHash,
  type EvidenceShape,
  type Exchange,
  type RolloutProgress,
  type RolloutStore,
  type RolloutStoreFactory,
  type StoredProgress,
} from './store.js';

export const ROLLOUT_KEY_PREFIX = 'switchyard:rollout:';

/** Extends the lease only while this replica still holds it (it may have expired and been taken). */
const LEASE_RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

const LEASE_RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Writes the progress if its version is still the one the writer read, and (holder given) while
 * the writer holds the lease: a leader that lost its lease, or an operator's action racing a
 * judgement, never overwrites what another replica wrote. Returns the new version, 0 or -1.
 */
const WRITE_LUA = `
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'version', version + 1, 'progress', ARGV[2])
return version + 1
`;

export interface RedisRolloutStoreOptions {
  /** Unique per process; default host:pid:random. */
  replicaId?: string;
}

/**
 * A rollout shared by every replica through Redis. Keys share a hash tag (model and policy hash),
 * so the one-round-trip MULTI stays on one slot of a cluster:
 *
 * - `…:lease`: the leader's id, SET NX PX, renewed each interval by compare-and-renew;
 * - `…:state`: a hash {version, progress (JSON)}, written only by compare-and-set;
 * - `…:ev:<step>`: the step's counters, every replica adding its own (HINCRBY);
 * - `…:lat:<step>:<side>`: the newest latency samples of a side (LPUSH + LTRIM).
 *
 * Evidence keys expire: those of a step no longer running stop being refreshed and go.
 */
export function createRedisRolloutStores(
  redis: Redis,
  options: RedisRolloutStoreOptions = {},
): RolloutStoreFactory {
  const holder = options.replicaId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  return (model, policy, contract, shape) =>
    new RedisRolloutStore(redis, holder, `${ROLLOUT_KEY_PREFIX}{${model}:${policyHash(policy, contract)}}`, {
      leaseMs: leaseMsFor(policy),
      evidenceTtlMs: Math.max(60_000, Math.round(policy.interval_s * 10_000)),
      shape,
    });
}

class RedisRolloutStore implements RolloutStore {
  readonly leaseMs: number;
  private readonly stateKey: string;
  private readonly leaseKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly holder: string,
    private readonly prefix: string,
    private readonly options: { leaseMs: number; evidenceTtlMs: number; shape: EvidenceShape },
  ) {
    this.leaseMs = options.leaseMs;
    this.stateKey = `${prefix}:state`;
    this.leaseKey = `${prefix}:lease`;
  }

  private evidenceKeys(stepIndex: number) {
    return {
      counters: `${this.prefix}:ev:${stepIndex}`,
      baseline: `${this.prefix}:lat:${stepIndex}:b`,
      candidate: `${this.prefix}:lat:${stepIndex}:c`,
    };
  }

  async exchange(delta: Parameters<RolloutStore['exchange']>[0], leader: boolean): Promise<Exchange> {
    const multi = this.redis.multi();
    if (delta) {
      const keys = this.evidenceKeys(delta.stepIndex);
      const { counts, sums } = evidenceFields(delta.evidence);
      for (const [field, value] of counts) multi.hincrby(keys.counters, field, value);
      for (const [field, value] of sums) multi.hincrbyfloat(keys.counters, field, value);
      const ttl = this.options.evidenceTtlMs;
      multi.pexpire(keys.counters, ttl);
      for (const side of ['baseline', 'candidate'] as const) {
        const samples = delta.evidence[side].latencyMs;
        if (samples.length === 0) continue;
        multi.lpush(keys[side], ...Array.from(samples, String));
        multi.ltrim(keys[side], 0, LATENCY_SAMPLES - 1);
        multi.pexpire(keys[side], ttl);
      }
    }
    // EVAL, not a defined command: inside MULTI a NOSCRIPT could not be resent. The scripts are tiny.
    if (leader) multi.eval(LEASE_RENEW_LUA, 1, this.leaseKey, this.holder, this.leaseMs);
    else multi.set(this.leaseKey, this.holder, 'PX', this.leaseMs, 'NX');
    multi.hgetall(this.stateKey);
    const replies = await multi.exec();
    if (!replies) throw new Error('the rollout exchange was discarded');
    for (const [error] of replies) if (error) throw error;
    const lease = replies.at(-2)![1];
    const state = replies.at(-1)![1] as Record<string, string>;
    return { leader: lease === 1 || lease === 'OK', stored: parseStored(state) };
  }

  async evidence(stepIndex: number) {
    const keys = this.evidenceKeys(stepIndex);
    const replies = await this.redis
      .pipeline()
      .hgetall(keys.counters)
      .lrange(keys.baseline, 0, -1)
      .lrange(keys.candidate, 0, -1)
      // A quiet spell longer than the TTL must not lose the running step's evidence.
      .pexpire(keys.counters, this.options.evidenceTtlMs)
      .pexpire(keys.baseline, this.options.evidenceTtlMs)
      .pexpire(keys.candidate, this.options.evidenceTtlMs)
      .exec();
    if (!replies) throw new Error('the evidence read was discarded');
    for (const [error] of replies) if (error) throw error;
    const [counters, baseline, candidate] = replies.map(([, value]) => value) as [
      Record<string, string>,
      string[],
      string[],
      ...unknown[],
    ];
    return evidenceFromFields(
      counters,
      { baseline: baseline.map(Number), candidate: candidate.map(Number) },
      this.options.shape,
    );
  }

  async read(): Promise<StoredProgress | undefined> {
    return parseStored(await this.redis.hgetall(this.stateKey));
  }

  async write(progress: RolloutProgress, version: number, asLeader: boolean): Promise<boolean> {
    const written = await this.redis.eval(
      WRITE_LUA,
      2,
      this.stateKey,
      this.leaseKey,
      version,
      JSON.stringify(progress),
      asLeader ? this.holder : '',
    );
    return typeof written === 'number' && written > 0;
  }

  async release(): Promise<void> {
    await this.redis.eval(LEASE_RELEASE_LUA, 1, this.leaseKey, this.holder);
  }
}

function parseStored(hash: Record<string, string>): StoredProgress | undefined {
  if (!hash.version || !hash.progress) return undefined;
  return { version: Number(hash.version), progress: JSON.parse(hash.progress) as RolloutProgress };
}
