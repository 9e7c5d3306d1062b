import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { OutageLog } from '../../shared/outage-log.js';
import type { CacheStore, CachedAnswer } from './store.js';

const PREFIX = 'switchyard:cache:';

/**
 * The result cache in Redis, shared by every replica, expiring by TTL. A Redis failure is a miss
 * (and a skipped write): the cache is an optimisation and a fallback, never a reason to fail.
 * Failures are logged per outage, not per request (see OutageLog).
 */
export class RedisCacheStore implements CacheStore {
  private readonly outage: OutageLog;

  constructor(
    private readonly redis: Redis,
    logger: Pick<Logger, 'info' | 'warn'>,
  ) {
    this.outage = new OutageLog(logger, {
      subject: 'result cache',
      consequence: 'lookups are misses and answers are not cached',
      unit: 'requests',
    });
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    let text: string | null;
    try {
      text = await this.redis.get(PREFIX + key);
    } catch (error) {
      this.outage.failed(error);
      return undefined;
    }
    this.outage.recovered();
    try {
      return text ? (JSON.parse(text) as CachedAnswer) : undefined;
    } catch {
      // Not ours to fix (another writer on our prefix); a miss, and overwritten on the next set.
      return undefined;
    }
  }

  set(key: string, answer: CachedAnswer, ttlMs: number): void {
    this.redis.set(PREFIX + key, JSON.stringify(answer), 'PX', ttlMs).then(this.succeeded, this.failed);
  }

  private readonly succeeded = (): void => this.outage.recovered();
  private readonly failed = (error: unknown): void => this.outage.failed(error);
}
