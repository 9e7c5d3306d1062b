import { GatewayError } from '../../errors.js';
import { refuse, type NamedStage } from '../../pipeline/stage.js';
import type { Authenticator } from './authenticate.js';

/** Who is calling: the API key's tenant, which must have the `infer` scope. */
export function createAuth(authenticate: Authenticator): NamedStage {
  return {
    name: 'auth',
    run(ctx, next) {
      const tenant = authenticate(ctx.headers, 'infer');
      if (tenant instanceof GatewayError) return Promise.resolve(refuse(tenant));
      ctx.tenant = tenant;
      return next();
    },
  };
}
