import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, gatewayError } from '../errors.js';
import type { ActiveGateway } from '../gateway/active.js';

type UpstreamParams = { upstream: string };
type DrainBody = { endpoint?: unknown };
type DrainQuery = { wait?: string };

/** The operator's endpoints; every one needs a key with the `admin` scope. */
export function registerAdminRoutes(app: FastifyInstance, active: ActiveGateway): void {
  const guard = async (request: FastifyRequest, reply: FastifyReply) => {
    const tenant = active.version.authenticate(request.headers, 'admin');
    if (tenant instanceof GatewayError) return reply.code(tenant.status).send(tenant.toJSON());
  };

  app.get('/admin/config', { preHandler: guard }, async () => {
    const { snapshot } = active.version;
    return {
      hash: snapshot.hash,
      source: snapshot.source,
      loaded_at: snapshot.loadedAt.toISOString(),
      config: snapshot.config,
    };
  });

  app.get('/admin/upstreams', { preHandler: guard }, async () =>
    Object.fromEntries([...active.version.pools].map(([name, pool]) => [name, pool.status()])),
  );

  const drainRoute = (undrain: boolean) =>
    async function drain(
      request: FastifyRequest<{ Params: UpstreamParams; Body: DrainBody; Querystring: DrainQuery }>,
    ) {
      const { snapshot, pools } = active.version;
      const pool = pools.get(request.params.upstream);
      const endpoint = request.body?.endpoint;
      if (!pool) throw gatewayError('ADMIN_UNKNOWN_ENDPOINT', `no upstream "${request.params.upstream}"`);
      if (typeof endpoint !== 'string') {
        throw gatewayError('INPUT_INVALID', 'send {"endpoint": "<url or host:port>"}', {
          problems: [{ path: '/endpoint', message: 'must be a string' }],
        });
      }
      if (undrain) {
        if (!pool.undrain(endpoint)) throw gatewayError('ADMIN_UNKNOWN_ENDPOINT', endpoint);
        return { endpoint, draining: false };
      }
      const result = pool.drain(endpoint);
      if (!result.found) throw gatewayError('ADMIN_UNKNOWN_ENDPOINT', endpoint);
      if (request.query.wait === 'true') {
        // Report when the endpoint's last request finished, within the configured drain timeout.
        const timeoutMs = snapshot.config.admin.drain_timeout_ms;
        let timer: NodeJS.Timeout | undefined;
        const drained = await Promise.race([
          result.done.then(() => true),
          new Promise<false>((resolve) => (timer = setTimeout(resolve, timeoutMs, false))),
        ]);
        clearTimeout(timer);
        return { endpoint, draining: true, drained };
      }
      const status = pool.status().find((s) => s.url === endpoint || s.url.endsWith(`//${endpoint}`));
      return { endpoint, draining: true, in_flight: status?.inFlight ?? 0 };
    };
  type DrainRoute = { Params: UpstreamParams; Body: DrainBody; Querystring: DrainQuery };
  app.post<DrainRoute>('/admin/upstreams/:upstream/drain', { preHandler: guard }, drainRoute(false));
  app.post<DrainRoute>('/admin/upstreams/:upstream/undrain', { preHandler: guard }, drainRoute(true));
}
