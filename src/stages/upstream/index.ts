import type { NamedStage } from '../../pipeline/stage.js';
import type { VariantCall } from '../../outbound/variant-call.js';

/**
 * The primary call: the request's variant, through the model's outbound stack
 * (src/outbound/stack.ts: breaker, retries over the pool, one attempt per endpoint).
 */
export function createUpstream(call: VariantCall): NamedStage {
  return {
    name: 'upstream',
    run: (ctx) => call(ctx, ctx.variant!),
  };
}
