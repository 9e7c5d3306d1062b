import { Type, type Static } from '@sinclair/typebox';

/**
 * Active health checks against each endpoint: GET of the OIP ready path for an http(s) endpoint,
 * grpc.health.v1.Health/Check for a grpc one (`path` does not apply to it).
 */
export const HealthCheckConfigSchema = Type.Object(
  {
    path: Type.String({ default: '/v2/health/ready', pattern: '^/' }),
    interval_ms: Type.Integer({ minimum: 50, default: 1000 }),
    timeout_ms: Type.Integer({ minimum: 10, default: 500 }),
    unhealthy_after: Type.Integer({ minimum: 1, default: 2 }),
    healthy_after: Type.Integer({ minimum: 1, default: 2 }),
  },
  { additionalProperties: false, default: {} },
);

/** Passive outlier ejection: consecutive connection errors or 5xx take an endpoint out for a while. */
export const OutlierConfigSchema = Type.Object(
  {
    consecutive_errors: Type.Integer({ minimum: 1, default: 5 }),
    eject_ms: Type.Integer({ minimum: 1, default: 10000 }),
    max_eject_ms: Type.Integer({ minimum: 1, default: 300000 }),
    max_ejected_percent: Type.Integer({ minimum: 0, maximum: 100, default: 50 }),
  },
  { additionalProperties: false, default: {} },
);

/**
 * How the gateway calls an endpoint: REST (the OIP's HTTP/JSON) or gRPC
 * (inference.GRPCInferenceService). A static endpoint says it by its scheme.
 */
export const UpstreamProtocolSchema = Type.Union([Type.Literal('http'), Type.Literal('grpc')], {
  default: 'http',
});

/** DNS discovery: every A/AAAA record of `name` is an endpoint on `port`, re-resolved on an interval. */
export const DnsDiscoveryConfigSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    /** How the discovered endpoints are called: http (REST) or grpc. */
    protocol: UpstreamProtocolSchema,
    interval_ms: Type.Integer({ minimum: 100, default: 5000 }),
    /** Resolvers to ask instead of the system's, as "ip" or "ip:port" (tests point this at a local dnsmasq). */
    servers: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  },
  { additionalProperties: false },
);

export const UpstreamConfigSchema = Type.Object(
  {
    /**
     * Static endpoints, as base URLs: "http://10.0.0.5:8000" is called over REST,
     * "grpc://10.0.0.5:8001" over gRPC; one pool may mix them. Exactly one of endpoints and dns.
     */
    endpoints: Type.Optional(Type.Array(Type.String({ pattern: '^(https?|grpc)://' }), { minItems: 1 })),
    dns: Type.Optional(DnsDiscoveryConfigSchema),
    health: HealthCheckConfigSchema,
    outlier: OutlierConfigSchema,
    /** Keep-alive connections per http endpoint (a grpc endpoint multiplexes calls on one channel). */
    connections: Type.Integer({ minimum: 1, default: 64 }),
    connect_timeout_ms: Type.Integer({ minimum: 1, default: 1000 }),
  },
  { additionalProperties: false },
);

export type HealthCheckConfig = Static<typeof HealthCheckConfigSchema>;
export type OutlierConfig = Static<typeof OutlierConfigSchema>;
export type UpstreamProtocol = Static<typeof UpstreamProtocolSchema>;
export type DnsDiscoveryConfig = Static<typeof DnsDiscoveryConfigSchema>;
export type UpstreamConfig = Static<typeof UpstreamConfigSchema>;
