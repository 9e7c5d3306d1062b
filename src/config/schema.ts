import { Type, type Static } from '@sinclair/typebox';
import { ContractModelFields } from '../contract/config.js';
import { DeliveryModelFields } from '../delivery/config.js';
import { DriftModelFields } from '../drift/config.js';
import { RolloutModelFields } from '../rollout/config.js';
import { AdmissionModelFields } from '../stages/admission/config.js';
import { AuthConfigSchema, TenantsConfigSchema } from '../stages/auth/config.js';
import { CacheModelFields } from '../stages/cache/config.js';
import { FallbackModelFields } from '../stages/fallback/config.js';
import { RouteModelFields } from '../stages/route/config.js';
import { ShadowModelFields } from '../stages/shadow/config.js';
import { UpstreamModelFields } from '../stages/upstream/config.js';
import { PredictionLogConfigSchema, PredictionLogModelFields } from '../telemetry/prediction-log/config.js';
import { UpstreamConfigSchema } from '../runtime-pool/config.js';
import { CLIENT_LIMITS_DEFAULTS } from '../shared/http/client-limits.js';
import { NAME_PATTERN } from './common.js';

/** `limits.body_bytes` when the file does not set it: 32 MiB, as the runtime's --max-body-bytes. */
export const DEFAULT_BODY_BYTES = 32 * 1024 * 1024;

/**
 * One model as clients see it. Each stage owns its fields (in its own config.ts). The order here
 * is not the order a request meets the stages: that is written once, in src/pipeline/build.ts.
 */
export const ModelConfigSchema = Type.Object(
  {
    ...AdmissionModelFields,
    ...RouteModelFields,
    ...CacheModelFields,
    ...UpstreamModelFields,
    ...FallbackModelFields,
    ...ShadowModelFields,
    ...ContractModelFields,
    // Not a stage: what this model's prediction records hold (src/telemetry/prediction-log).
    ...PredictionLogModelFields,
    // Not a stage: the record `switchyard rollout` keeps for its rollback (src/rollout).
    ...RolloutModelFields,
    // Not a stage: the progressive delivery the gateway runs for this model (src/delivery).
    ...DeliveryModelFields,
    // Not a stage: drift of the score and features, measured all the time (src/drift).
    ...DriftModelFields,
    // Not a stage: what the HTTP front doors accept of this model's requests (src/http).
    limits: Type.Optional(
      Type.Object(
        {
          /**
           * This model's request bodies may be at most this large (decompressed), instead of
           * `limits.body_bytes`: lower for a model with small rows, higher for one with large
           * tensors. Read per request, so a reload changes it.
           */
          body_bytes: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ListenConfigSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '0.0.0.0' }),
    /** 0 picks a free port (tests). */
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  },
  { additionalProperties: false, default: {} },
);

export const LimitsConfigSchema = Type.Object(
  {
    /**
     * Larger request bodies (decompressed) are refused with 413 before they are parsed, unless
     * the model sets its own `limits.body_bytes`. 32 MiB, the runtime's own default: an image
     * model's row is large in JSON (the demo text-direction classifier's is about 550 KB, so a
     * batch of 32 rows is about 17.6 MB), and a gateway that refuses what its runtimes accept
     * breaks such a model for no gain. Bodies cost memory only while they arrive, bounded in
     * time by request_timeout_ms; a model with small rows can set a low limit of its own.
     */
    body_bytes: Type.Integer({ minimum: 1, default: DEFAULT_BODY_BYTES }),
    /**
     * Request bodies nesting arrays and objects deeper than this are refused with 400 before they
     * are parsed (src/shared/json-depth.ts). At most 1000: JSON.stringify and the recursive walks
     * of a body overflow the stack near 5,000 levels on Node's default stack.
     */
    json_depth: Type.Integer({ minimum: 1, maximum: 1000, default: 64 }),
    /** The request line and headers must arrive within this (nginx's client_header_timeout), else 408 and close. */
    header_timeout_ms: Type.Integer({ minimum: 1, default: CLIENT_LIMITS_DEFAULTS.headerTimeoutMs }),
    /** The longest pause between two reads of a body (nginx's client_body_timeout), else 408 and close. */
    body_timeout_ms: Type.Integer({ minimum: 1, default: CLIENT_LIMITS_DEFAULTS.bodyTimeoutMs }),
    /** The whole request, head and body, must arrive within this (Node's requestTimeout), else 408 and close. */
    request_timeout_ms: Type.Integer({ minimum: 1, default: CLIENT_LIMITS_DEFAULTS.requestTimeoutMs }),
    /** Connections beyond this many are closed as they arrive; 0: no cap. */
    max_connections: Type.Integer({ minimum: 0, default: CLIENT_LIMITS_DEFAULTS.maxConnections }),
  },
  { additionalProperties: false, default: {} },
);

export const StateConfigSchema = Type.Object(
  {
    /** Empty: rate limits, cache and prediction log live in this process. Set: shared by all replicas. */
    redis_url: Type.String({ pattern: '^$|^rediss?://', default: '' }),
    /**
     * When Redis cannot be reached: `open` keeps serving with each replica enforcing its share of
     * every limit, `closed` refuses rate-limited traffic. Counted either way.
     */
    ratelimit_failure_mode: Type.Union([Type.Literal('open'), Type.Literal('closed')], { default: 'open' }),
  },
  { additionalProperties: false, default: {} },
);

export const AdminConfigSchema = Type.Object(
  {
    /** How long `POST /admin/upstreams/{upstream}/drain?wait=true` waits for the endpoint's in-flight requests. */
    drain_timeout_ms: Type.Integer({ minimum: 0, default: 30000 }),
    console: Type.Boolean({
      default: false,
      description:
        "serve the operator's console page at GET /console (its data comes from /admin/* with an admin key)",
    }),
  },
  { additionalProperties: false, default: {} },
);

export const GatewayConfigSchema = Type.Object(
  {
    listen: ListenConfigSchema,
    limits: LimitsConfigSchema,
    state: StateConfigSchema,
    admin: AdminConfigSchema,
    prediction_log: PredictionLogConfigSchema,
    auth: AuthConfigSchema,
    tenants: TenantsConfigSchema,
    upstreams: Type.Record(Type.String({ pattern: NAME_PATTERN }), UpstreamConfigSchema, {
      additionalProperties: false,
    }),
    models: Type.Record(Type.String({ pattern: NAME_PATTERN }), ModelConfigSchema, {
      additionalProperties: false,
    }),
  },
  { additionalProperties: false },
);

export type ModelConfig = Static<typeof ModelConfigSchema>;
export type ListenConfig = Static<typeof ListenConfigSchema>;
export type LimitsConfig = Static<typeof LimitsConfigSchema>;
export type StateConfig = Static<typeof StateConfigSchema>;
export type AdminConfig = Static<typeof AdminConfigSchema>;
export type GatewayConfig = Static<typeof GatewayConfigSchema>;
