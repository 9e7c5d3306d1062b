import type { InferResponse } from '../../shared/oip.js';

export interface CachedAnswer {
  response: InferResponse;
  variant: string;
  version: string;
  /** Date.now() when it was stored. */
  storedAt: number;
}

/** Where answers are kept: this process's memory, or Redis shared by every replica. */
export interface CacheStore {
  get(key: string): Promise<CachedAnswer | undefined>;
  /** Best effort, off the request path: a failed write is counted by the store, never thrown. */
  set(key: string, answer: CachedAnswer, ttlMs: number): void;
}

/**
 * A bounded LRU in memory: a Map keeps insertion order, so re-inserting on a hit makes the first
 * key the least recently used. Entries past their TTL are dropped when read.
 */
export class MemoryCacheStore implements CacheStore {
  private readonly entries = new Map<string, { answer: CachedAnswer; expiresAt: number }>();

  constructor(
    readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Promise<CachedAnswer | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return Promise.resolve(undefined);
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return Promise.resolve(undefined);
    this.entries.set(key, entry);
    return Promise.resolve(entry.answer);
  }

  set(key: string, answer: CachedAnswer, ttlMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { answer, expiresAt: this.now() + ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
