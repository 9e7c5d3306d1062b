import type { Answer, NamedStage, RequestContext } from '../../pipeline/stage.js';
import type { DeferredTasks } from '../../telemetry/deferred.js';
import type { CacheConfig } from './config.js';
import { createCacheKeys } from './keys.js';
import type { CacheMetrics } from './metrics.js';
import type { CacheStore } from './store.js';

/**
 * Keeps the last good answer of a deterministic model per version and input (and per entity,
 * e.g. the user, when `entity_key` is set): written after every successful model call, read by
 * the `cache` fallback (createCacheLookup), and — with `serve_hits` — answering before the model
 * is called.
 */
export function createCache(
  modelName: string,
  cache: CacheConfig,
  deps: { store: CacheStore; metrics: CacheMetrics; deferred: Pick<DeferredTasks, 'failed'> },
): NamedStage {
  const keysOf = createCacheKeys(modelName, cache);
  const hits = deps.metrics.lookups.labels({ model: modelName, outcome: 'hit' });
  const misses = deps.metrics.lookups.labels({ model: modelName, outcome: 'miss' });
  const stores = deps.metrics.stores.labels({ model: modelName });
  return {
    name: 'cache',
    async run(ctx, next) {
      const keys = keysOf(ctx);
      if (cache.serve_hits) {
        const hit = await deps.store.get(keys.input);
        (hit ? hits : misses).inc();
        if (hit) {
          ctx.headersOut['x-switchyard-cache'] = 'hit';
          return { ok: true, response: hit.response, variant: hit.variant, version: hit.version };
        }
      }
      const reply = await next();
      if (reply.ok && !reply.fallback && reply.response) {
        const answer = {
          response: reply.response,
          variant: reply.variant,
          version: reply.version,
          storedAt: Date.now(),
        };
        // The answer is good whether or not it can be kept: a write that throws (an answer the
        // store cannot serialise) is counted, never the caller's 500.
        try {
          deps.store.set(keys.input, answer, cache.ttl_ms);
          if (keys.entity) deps.store.set(keys.entity, answer, cache.ttl_ms);
          stores.inc();
        } catch (error) {
          deps.deferred.failed('cache_write', error);
        }
      }
      return reply;
    },
  };
}

/** The cache fallback's read: the answer kept for this input, else for this entity. */
export type CacheLookup = (ctx: RequestContext) => Promise<Answer | undefined>;

export function createCacheLookup(modelName: string, cache: CacheConfig, store: CacheStore): CacheLookup {
  const keysOf = createCacheKeys(modelName, cache);
  return async (ctx) => {
    const keys = keysOf(ctx);
    const hit = (await store.get(keys.input)) ?? (keys.entity ? await store.get(keys.entity) : undefined);
    return hit && { ok: true, response: hit.response, variant: hit.variant, version: hit.version };
  };
}
