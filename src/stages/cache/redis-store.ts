import type { Redis } from 'ioredis';
import type { CacheStore, CachedAnswer } from './store.js';

const PREFIX = 'switchyard:cache:';

/**
 * The result cache in Redis, shared by every replica, expiring by TTL. A Redis failure is a miss
 * (and a skipped write): the cache is an optimisation and a fallback, never a reason to fail.
 */
export class RedisCacheStore implements CacheStore {
  constructor(
    private readonly redis: Redis,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  async get(key: string): Promise<CachedAnswer | undefined> {
    try {
      const text = await this.redis.get(PREFIX + key);
      return text ? (JSON.parse(text) as CachedAnswer) : undefined;
    } catch (error) {
      this.onError(error);
      return undefined;
    }
  }

  set(key: string, answer: CachedAnswer, ttlMs: number): void {
    this.redis.set(PREFIX + key, JSON.stringify(answer), 'PX', ttlMs).catch(this.onError);
  }
}
