import { GatewayError } from '../../errors.js';
import { refuse, type NamedStage } from '../../pipeline/stage.js';
import type { Authenticator } from './authenticate.js';

/** Who is calling: the API key's tenant, which must have the `infer` scope. */
export function createAuth(authenticate: Authenticator): NamedStage {
  return {
    name: 'auth',
    async run(ctx, next) {
      const found = authenticate(ctx.headers, 'infer');
      const tenant = found instanceof Promise ? await found : found;
      if (tenant instanceof GatewayError) return refuse(tenant);
      ctx.tenant = tenant;
      return next();
    },
  };
}
