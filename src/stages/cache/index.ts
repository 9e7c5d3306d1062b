import type { CacheConfig } from './config.js';
import type { NamedStage } from '../../pipeline/stage.js';
import { createKeyReader } from '../route/request-key.js';
import { entityKey, inputKey } from './keys.js';
import type { CacheMetrics } from './metrics.js';
import type { CacheStore } from './store.js';

/**
 * Keeps the last good answer of a deterministic model per version and input (and per entity,
 * e.g. the user, when `entity_key` is set): written after every successful model call, read by
 * the `cache` fallback, and — with `serve_hits` — answering before the model is called.
 */
export function createCache(
  modelName: string,
  cache: CacheConfig,
  deps: { store: CacheStore; metrics: CacheMetrics },
): NamedStage {
  const readEntity = cache.entity_key ? createKeyReader(cache.entity_key) : undefined;
  const hits = deps.metrics.lookups.labels({ model: modelName, outcome: 'hit' });
  const misses = deps.metrics.lookups.labels({ model: modelName, outcome: 'miss' });
  const stores = deps.metrics.stores.labels({ model: modelName });
  return {
    name: 'cache',
    async run(ctx, next) {
      const version = ctx.variant!.version;
      const entity = readEntity?.(ctx);
      const keys = {
        input: inputKey(modelName, version, ctx.inference!),
        entity: entity === undefined ? undefined : entityKey(modelName, version, entity),
      };
      ctx.cacheKeys = keys;
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
        deps.store.set(keys.input, answer, cache.ttl_ms);
        if (keys.entity) deps.store.set(keys.entity, answer, cache.ttl_ms);
        stores.inc();
      }
      return reply;
    },
  };
}
