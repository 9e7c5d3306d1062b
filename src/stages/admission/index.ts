import { performance } from 'node:perf_hooks';
import type { ModelConfig } from '../../config/schema.js';
import { gatewayError } from '../../errors.js';
import { refuse, type NamedStage, type Refusal, type RequestContext } from '../../pipeline/stage.js';
import type { LimitDecision, Limiter } from '../../ratelimit/limiter.js';
import { boundLabels } from '../../telemetry/bound-labels.js';
import type { TenantConfig } from '../auth/config.js';
import type { LatencyWindow } from '../../outbound/latency.js';
import type { AdmissionGate } from './gate.js';
import type { AdmissionMetrics } from './metrics.js';

export interface AdmissionDeps {
  limiter: Limiter;
  /** The model's gate and latency, which outlive config versions (the gate's limits are set when a version is applied). */
  gate: AdmissionGate;
  latency: LatencyWindow;
  metrics: AdmissionMetrics;
}

/** Shed answers say when to come back; a second is the usual retry interval of a busy client. */
const SHED_RETRY_AFTER_S = '1';

/**
 * May this request run now: the tenant's rate limits (overall and for this model), then a
 * concurrency slot. A request waits for a slot only while its remaining budget still covers the
 * model's recent upstream latency; otherwise it is shed at once, not at the caller's timeout.
 */
export function createAdmission(modelName: string, model: ModelConfig, deps: AdmissionDeps): NamedStage {
  const { limiter, gate, latency, metrics } = deps;
  const shedCounter = boundLabels((labels) => metrics.shed.labels({ model: modelName, ...labels }), [
    'priority',
    'reason',
  ] as const);
  const rateLimitedCounter = boundLabels(
    (labels) => metrics.rateLimited.labels({ model: modelName, ...labels }),
    ['limit'] as const,
  );

  // Each tenant's buckets for this model, worked out on its first request rather than on every one.
  const bucketsOf = new WeakMap<TenantConfig, readonly Bucket[]>();
  const tenantBuckets = (tenant: TenantConfig): readonly Bucket[] => {
    let buckets = bucketsOf.get(tenant);
    if (!buckets) bucketsOf.set(tenant, (buckets = limitBuckets(tenant, modelName)));
    return buckets;
  };

  async function checkLimits(ctx: RequestContext, tenant: TenantConfig): Promise<Refusal | undefined> {
    let tightest: LimitDecision | undefined;
    for (const { key, kind, limit } of tenantBuckets(tenant)) {
      const decision = await limiter.take(key, limit.rps, limit.burst);
      if (!tightest || decision.remaining < tightest.remaining || !decision.allowed) tightest = decision;
      if (!decision.allowed) {
        rateLimitedCounter(kind).inc();
        setRateLimitHeaders(ctx, decision);
        ctx.headersOut['retry-after'] = String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
        return refuse(
          gatewayError(
            'RATELIMIT_EXCEEDED',
            `${kind === 'tenant' ? 'tenant' : `tenant for model ${modelName}`} limit of ${limit.rps} rps`,
          ),
        );
      }
    }
    if (tightest) setRateLimitHeaders(ctx, tightest);
    return undefined;
  }

  return {
    name: 'admission',
    async run(ctx, next) {
      const tenant = ctx.tenant!;
      if (tenant.rate_limit || tenant.model_rate_limits) {
        const refused = await checkLimits(ctx, tenant);
        if (refused) return refused;
      }
      const waitMs = ctx.deadline - performance.now() - latency.median();
      const entered = gate.enter(tenant.priority, waitMs);
      const result = typeof entered === 'string' ? entered : await entered;
      if (result !== 'admitted') {
        shedCounter(tenant.priority, result).inc();
        ctx.headersOut['retry-after'] = SHED_RETRY_AFTER_S;
        const why =
          result === 'budget'
            ? 'the remaining budget no longer covers the model latency'
            : result === 'displaced'
              ? 'a higher-priority request took its place in the queue'
              : 'the queue is full';
        return refuse(gatewayError('ADMISSION_SHED', why));
      }
      try {
        return await next();
      } finally {
        gate.leave();
      }
    },
  };
}

interface Bucket {
  key: string;
  kind: 'tenant' | 'tenant_model';
  limit: { rps: number; burst: number };
}

/**
 * The rate-limit buckets a tenant's request for `modelName` takes from, in order. The narrower
 * bucket first: a call its model's limit refuses then spends none of the tenant-wide tokens, which
 * the tenant's other models need (a token is taken, never returned).
 */
function limitBuckets(tenant: TenantConfig, modelName: string): Bucket[] {
  const buckets: Bucket[] = [];
  const modelLimit = tenant.model_rate_limits?.[modelName];
  if (modelLimit)
    buckets.push({
      key: `tenant:${tenant.name}:model:${modelName}`,
      kind: 'tenant_model',
      limit: modelLimit,
    });
  if (tenant.rate_limit)
    buckets.push({ key: `tenant:${tenant.name}`, kind: 'tenant', limit: tenant.rate_limit });
  return buckets;
}

function setRateLimitHeaders(ctx: RequestContext, decision: LimitDecision): void {
  ctx.headersOut['ratelimit-limit'] = String(decision.limit);
  ctx.headersOut['ratelimit-remaining'] = String(Math.max(0, Math.floor(decision.remaining)));
  ctx.headersOut['ratelimit-reset'] = String(Math.ceil(decision.resetMs / 1000));
}
