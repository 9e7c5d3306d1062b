import { Type, type Static } from '@sinclair/typebox';

/** What a key may do. `debug` may force a variant with the model's `routing.force_header`. */
export const ScopeSchema = Type.Union([
  Type.Literal('infer'),
  Type.Literal('admin'),
  Type.Literal('debug'),
  // May pin a model version in the URL (/v2/models/{m}/versions/{v}/infer), bypassing assignment.
  Type.Literal('pin'),
]);

/**
 * Only the digest of an API key is ever written down, so the config file (and the admin endpoint
 * that shows it) never holds a usable secret.
 */
export const ApiKeyConfigSchema = Type.Object(
  {
    sha256: Type.String({
      pattern: '^[0-9a-f]{64}$',
      description: 'sha256 of the API key, 64 lowercase hex characters (printf %s KEY | sha256sum)',
    }),
  },
  { additionalProperties: false },
);

/**
 * A token bucket: `rps` refills per second, `burst` is the bucket size. A named schema on its own so
 * the per-model limits planned for later can reuse it (e.g. `rate_limits: { fraud: {...} }`).
 */
export const RateLimitConfigSchema = Type.Object(
  {
    rps: Type.Number({ exclusiveMinimum: 0 }),
    burst: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

export const TenantConfigSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    /** Empty is allowed: a tenant whose keys are all revoked stays in the file for its history. */
    keys: Type.Array(ApiKeyConfigSchema),
    scopes: Type.Array(ScopeSchema, { uniqueItems: true }),
    /** The tenant's limit over all models. */
    rate_limit: Type.Optional(RateLimitConfigSchema),
    /** Limits per model for this tenant, on top of `rate_limit`: `{ fraud: { rps: 50, burst: 100 } }`. */
    model_rate_limits: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-zA-Z0-9_.-]+$' }), RateLimitConfigSchema, {
        additionalProperties: false,
      }),
    ),
    /** Under overload, `low` is shed first and `high` last. */
    priority: Type.Union([Type.Literal('high'), Type.Literal('normal'), Type.Literal('low')], {
      default: 'normal',
    }),
  },
  { additionalProperties: false },
);

/** The top-level `tenants` slice. */
export const TenantsConfigSchema = Type.Array(TenantConfigSchema, { default: [] });

/**
 * Optional JWT bearer tokens besides API keys: a token signed with the configured key names its
 * tenant in `tenant_claim`; the tenant's scopes, limits and priority then apply as for a key.
 */
export const JwtConfigSchema = Type.Object(
  {
    algorithm: Type.Union([Type.Literal('HS256'), Type.Literal('RS256')]),
    /** HS256: a file holding the shared secret. RS256: a PEM public key (SPKI) file. */
    key_file: Type.String({ minLength: 1 }),
    tenant_claim: Type.String({ minLength: 1, default: 'tenant' }),
    issuer: Type.Optional(Type.String({ minLength: 1 })),
    audience: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export const AuthConfigSchema = Type.Object(
  { jwt: Type.Optional(JwtConfigSchema) },
  { additionalProperties: false, default: {} },
);

export type JwtConfig = Static<typeof JwtConfigSchema>;
export type Scope = Static<typeof ScopeSchema>;
export type ApiKeyConfig = Static<typeof ApiKeyConfigSchema>;
export type RateLimitConfig = Static<typeof RateLimitConfigSchema>;
export type TenantConfig = Static<typeof TenantConfigSchema>;
