import { performance } from 'node:perf_hooks';
import type { ModelConfig } from '../../config/schema.js';
import type { Answer, FallbackUsed, NamedStage, Reply, RequestContext } from '../../pipeline/stage.js';
import { boundLabels } from '../../telemetry/bound-labels.js';
import type { CacheLookup } from '../cache/index.js';
import { fallbackReason } from './reason.js';
import type { VariantCall } from '../../outbound/variant-call.js';
import type { FallbackMetrics } from './metrics.js';

export interface FallbackDeps {
  /** The model's outbound call (src/outbound/stack.ts), the one the upstream stage makes. */
  call: VariantCall;
  /** Reads the result cache; undefined when the model keeps none. */
  cacheLookup: CacheLookup | undefined;
  metrics: FallbackMetrics;
}

/**
 * Wraps the upstream call: when the breaker is open, the runtime failed or the budget ran out,
 * tries the model's chain in order — the cached answer, another variant (never the one that
 * failed), a fixed decision — and says which one answered and why.
 */
export function createFallback(modelName: string, model: ModelConfig, deps: FallbackDeps): NamedStage {
  const chain = model.fallback;
  const variants = new Map(model.variants.map((v) => [v.name, v]));
  const fallbackCounter = boundLabels(
    (labels) => deps.metrics.fallbacks.labels({ model: modelName, ...labels }),
    ['variant', 'kind', 'reason'] as const,
  );

  async function step(ctx: RequestContext, index: number): Promise<Answer | undefined> {
    const entry = chain[index]!;
    if (entry === 'cache') return deps.cacheLookup?.(ctx);
    if ('variant' in entry) {
      const variant = variants.get(entry.variant);
      if (!variant || variant.name === ctx.variant!.name || ctx.deadline <= performance.now())
        return undefined;
      const reply = await deps.call(ctx, variant, 0); // the reserve was kept for this
      return reply.ok ? reply : undefined;
    }
    // A fixed decision answers only the decision endpoint: it has no tensors for /v2 infer or
    // /v1 predict, whose callers get the model path's own error instead of a fallback that
    // answered nothing (and no x-switchyard-fallback header claiming one did).
    if (ctx.endpoint !== 'decision') return undefined;
    return {
      ok: true,
      response: undefined,
      decision: entry.default,
      variant: ctx.variant!.name,
      version: ctx.variant!.version,
    };
  }

  return {
    name: 'fallback',
    async run(ctx, next): Promise<Reply> {
      const reply = await next();
      if (reply.ok || chain.length === 0) return reply;
      const reason = fallbackReason(reply.error);
      if (!reason) return reply;
      for (let i = 0; i < chain.length; i++) {
        const answer = await step(ctx, i);
        if (!answer) continue;
        const entry = chain[i]!;
        const kind: FallbackUsed['kind'] =
          entry === 'cache' ? 'cache' : 'variant' in entry ? 'variant' : 'default';
        fallbackCounter(ctx.variant!.name, kind, reason).inc();
        return { ...answer, fallback: { kind, reason } };
      }
      return reply;
    },
  };
}
