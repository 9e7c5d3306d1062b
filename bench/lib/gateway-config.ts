import { createHash } from 'node:crypto';
import { FRAUD_FEATURES } from '../../scripts/fraud/synthetic.js';

/** The API key the load sends; only its sha256 goes into the generated configs. */
export const BENCH_KEY = 'sk-switchyard-bench-0123456789abcdef';
export const BENCH_AUTH = { authorization: `Bearer ${BENCH_KEY}` };
export const BENCH_KEY_SHA256 = createHash('sha256').update(BENCH_KEY).digest('hex');

export interface TenantOptions {
  name?: string;
  key?: string;
  rps: number;
  burst: number;
}

/** A tenant with the infer scope and a token-bucket limit. */
export function benchTenant(options: TenantOptions): object {
  return {
    name: options.name ?? 'bench',
    keys: [
      {
        sha256: createHash('sha256')
          .update(options.key ?? BENCH_KEY)
          .digest('hex'),
      },
    ],
    scopes: ['infer'],
    rate_limit: { rps: options.rps, burst: options.burst },
    priority: 'high',
  };
}

/** A limit far above anything this machine can send, so it is checked on every request but never refuses. */
export const UNLIMITED = { rps: 1_000_000, burst: 1_000_000 };

export interface GatewayConfigOptions {
  /** Upstream name → endpoint base URLs; the variants use `onnx`. */
  upstreams: Record<string, string[]>;
  redisUrl?: string;
  tenants?: object[];
  /** Fields of `models.fraud` to add or replace. */
  model?: Record<string, unknown>;
}

/**
 * A production-like gateway config for the demo fraud model: API-key auth, a tenant rate limit,
 * hashed routing by x-user-id over two variants at 50/50 (both on the same runtime), the default
 * breaker, the contract of the decision endpoint; metrics and server-timing are always on.
 */
export function fraudGatewayConfig(options: GatewayConfigOptions): object {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    state: { redis_url: options.redisUrl ?? '' },
    tenants: options.tenants ?? [benchTenant(UNLIMITED)],
    upstreams: Object.fromEntries(
      Object.entries(options.upstreams).map(([name, endpoints]) => [name, { endpoints }]),
    ),
    models: {
      fraud: {
        routing: { key: 'header:x-user-id', salt: 'fraud-bench' },
        variants: [
          { name: 'v1', upstream: 'onnx', model: 'fraud', version: '1', weight: 50 },
          { name: 'v2', upstream: 'onnx', model: 'fraud', version: '2', weight: 50 },
        ],
        contract: {
          input: 'features',
          output: 'score',
          features: FRAUD_FEATURES.map(({ name, min, max }) => ({ name, min, max })),
          decisions: {
            below: 'approve',
            thresholds: [
              { at: 0.5, decision: 'review' },
              { at: 0.85, decision: 'decline' },
            ],
          },
        },
        ...options.model,
      },
    },
  };
}
