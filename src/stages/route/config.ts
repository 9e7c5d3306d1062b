import { Type, type Static } from '@sinclair/typebox';
import { NameSchema } from '../../config/common.js';

/**
 * Where a per-request key comes from: a request header, a field of the JSON body (dotted path), or
 * the authenticated tenant. Route owns this syntax; the cache reuses it for its entity key.
 */
const REQUEST_KEY = {
  pattern: '^(header:[A-Za-z0-9-]+|body:[A-Za-z0-9_.]+|tenant)$',
  description: 'header:NAME, body:dotted.path or tenant',
};

export const RequestKeySchema = Type.String(REQUEST_KEY);

export const RoutingConfigSchema = Type.Object(
  {
    /** Where the user key comes from; a list is tried in order, so one user keyed by a header on
     * the tensor endpoints and by `body:user_id` on the decision endpoint lands in one variant. */
    key: Type.Union([Type.String(REQUEST_KEY), Type.Array(Type.String(REQUEST_KEY), { minItems: 1 })], {
      default: 'header:x-user-id',
      description: `${REQUEST_KEY.description}, or a list of them`,
    }),
    /**
     * Mixed into the hash. Required, and worth changing per experiment: a new salt reshuffles users,
     * so the same users are not always the ones who get every canary.
     */
    salt: Type.String({ minLength: 1 }),
    /** A request without the key either gets a random variant or is refused. */
    missing_key: Type.Union([Type.Literal('random'), Type.Literal('reject')], { default: 'random' }),
    /** Names a variant directly; only honoured for keys with the `debug` scope. */
    force_header: Type.String({ pattern: '^[A-Za-z0-9-]+$', default: 'x-switchyard-force-variant' }),
  },
  { additionalProperties: false },
);

export const VariantConfigSchema = Type.Object(
  {
    name: NameSchema,
    /** A key of the top-level `upstreams`. */
    upstream: NameSchema,
    /** The model name and version on the runtime (Open Inference Protocol path). */
    model: Type.String({ minLength: 1 }),
    version: Type.String({ minLength: 1 }),
    /**
     * Percent of users, in variant order against 10000 hash buckets, so at most two decimals. The
     * weights of a model sum to 100; a variant at 0 stays addressable by fallback and force_header.
     */
    weight: Type.Number({ minimum: 0, maximum: 100 }),
  },
  { additionalProperties: false },
);

/** The route stage's fields of a model. */
export const RouteModelFields = {
  routing: RoutingConfigSchema,
  variants: Type.Array(VariantConfigSchema, { minItems: 1 }),
};

export type RoutingConfig = Static<typeof RoutingConfigSchema>;
export type VariantConfig = Static<typeof VariantConfigSchema>;
