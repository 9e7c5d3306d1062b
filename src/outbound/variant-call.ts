import type { Reply, RequestContext } from '../pipeline/stage.js';
import type { VariantConfig } from '../stages/route/config.js';

/** What a call to one variant reads from the request. */
export type CallContext = Pick<
  RequestContext,
  'inference' | 'inferenceText' | 'inferenceTensors' | 'deadline' | 'requestId' | 'headers'
>;

/** The variant (a primary, a fallback or a shadow) a call goes to. */
export type CallTarget = Pick<VariantConfig, 'name' | 'upstream' | 'model' | 'version'>;

/**
 * Calls one variant (a primary, fallback or shadow) for a request; never throws. `reserveMs` is
 * the time kept back from the budget for a fallback: the model's `fallback_reserve_ms` for a
 * first call, 0 for the fallback itself, which may spend what was kept for it.
 */
export type VariantCall = (ctx: CallContext, variant: CallTarget, reserveMs?: number) => Promise<Reply>;
