import { Type, type Static } from '@sinclair/typebox';
import { RequestKeySchema } from '../route/config.js';

export const CacheConfigSchema = Type.Object(
  {
    ttl_ms: Type.Integer({ minimum: 1 }),
    /** Per gateway replica when in memory; Redis evicts by TTL alone. */
    max_entries: Type.Integer({ minimum: 1, default: 10000 }),
    /**
     * false: the cache only answers as a fallback. true: a hit answers before the model is called,
     * which is only right when a stale answer for the same input is acceptable.
     */
    serve_hits: Type.Boolean({ default: false }),
    /**
     * Part of the cache key besides the input, e.g. `body:user_id`, so a fallback answer is the one
     * given to the same entity. Same syntax as `routing.key`.
     */
    entity_key: Type.Optional(RequestKeySchema),
  },
  { additionalProperties: false },
);

/** The cache stage's fields of a model: no `cache` section, no caching. */
export const CacheModelFields = {
  cache: Type.Optional(CacheConfigSchema),
};

export type CacheConfig = Static<typeof CacheConfigSchema>;
