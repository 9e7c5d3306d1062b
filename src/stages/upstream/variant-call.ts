import type { Reply, RequestContext } from '../../pipeline/stage.js';
import type { VariantConfig } from '../route/config.js';

/** What a call to one variant reads from the request. */
export type CallContext = Pick<RequestContext, 'inference' | 'deadline' | 'requestId' | 'headers'>;

/** Calls one variant (a primary, fallback or shadow) for a request; never throws. */
export type VariantCall = (
  ctx: CallContext,
  variant: Pick<VariantConfig, 'name' | 'upstream' | 'model' | 'version'>,
) => Promise<Reply>;
