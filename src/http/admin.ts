import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, gatewayError } from '../errors.js';
import { RolloutStoreUnavailableError } from '../delivery/shared.js';
import type { ActiveGateway } from '../gateway/active.js';
import type { RolloutRegistry } from '../delivery/registry.js';
import type { ModelStates } from '../gateway/model-state.js';
import type { ReloadRecord } from '../gateway/reload-record.js';
import type { ModelsView } from '../console/index.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import { endpointOrigin } from '../runtime-pool/index.js';
import { sendError } from './error-shape.js';

type UpstreamParams = { upstream: string };
type DrainBody = { endpoint?: unknown };
type DrainQuery = { wait?: string };

/** The operator's endpoints; every one needs a key with the `admin` scope. */
export function registerAdminRoutes(
  app: FastifyInstance,
  active: ActiveGateway,
  live: {
    models: ModelStates;
    metrics: GatewayMetrics;
    rollouts: RolloutRegistry;
    reloads: ReloadRecord;
    modelsView: ModelsView;
  },
): void {
  const guard = async (request: FastifyRequest, reply: FastifyReply) => {
    const tenant = await active.version.authenticate(request.headers, 'admin');
    if (tenant instanceof GatewayError) return sendError(reply, tenant, request);
  };

  app.get('/admin/config', { preHandler: guard }, async () => {
    const { snapshot } = active.version;
    return {
      hash: snapshot.hash,
      file_hash: snapshot.fileHash,
      source: snapshot.source,
      loaded_at: snapshot.loadedAt.toISOString(),
      // The last change of the file seen: an invalid edit shows here with its problems.
      last_reload: live.reloads.last,
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
      // A URL, or host:port of an http or a grpc endpoint.
      const origins = /^[a-z]+:\/\//.test(endpoint)
        ? [endpointOrigin(endpoint)]
        : [`http://${endpoint}`, `grpc://${endpoint}`];
      const status = pool.status().find((s) => origins.includes(s.url) || s.url === endpoint);
      return { endpoint, draining: true, in_flight: status?.inFlight ?? 0 };
    };
  // Per model: requests by variant and outcome, each breaker's state, and how the shadows compare.
  app.get('/admin/stats', { preHandler: guard }, async () => {
    const requests = (await live.metrics.requests.get()).values;
    const models: Record<string, unknown> = {};
    for (const [name, model] of active.version.models) {
      const state = live.models.stats(name);
      const variants = Object.fromEntries(
        [...model.config.variants, ...model.config.shadows].map((v) => {
          const outcomes: Record<string, number> = {};
          for (const sample of requests) {
            if (sample.labels.model === name && sample.labels.variant === v.name) {
              const outcome = String(sample.labels.outcome);
              outcomes[outcome] = (outcomes[outcome] ?? 0) + sample.value;
            }
          }
          return [
            v.name,
            {
              version: v.version,
              weight: 'weight' in v ? v.weight : 0,
              shadow: !('weight' in v),
              breaker: state?.breakers.get(v.name)?.state ?? 'closed',
              requests: outcomes,
            },
          ];
        }),
      );
      models[name] = {
        variants,
        shadows: state?.shadows.report() ?? [],
        in_flight: state?.gate.inFlight ?? 0,
        queued: state?.gate.queued ?? 0,
        latency_ms: { p50: state?.latency.median() ?? 0, p90: state?.latency.p90Ms() ?? 0 },
      };
    }
    return { config: active.version.snapshot.hash, models };
  });

  // Per model over the last minute and as time series: the console's data, for scripts too.
  app.get('/admin/models', { preHandler: guard }, () => live.modelsView.read());

  // Rollouts: what each is doing and why, and an operator's hand on it.
  app.get('/admin/rollouts', { preHandler: guard }, async () => ({
    rollouts: live.rollouts.all().map((rollout) => rollout.status()),
  }));
  app.get<{ Params: { model: string } }>('/admin/rollouts/:model', { preHandler: guard }, async (request) => {
    const rollout = live.rollouts.get(request.params.model);
    if (!rollout) throw gatewayError('ROLLOUT_UNKNOWN', `"${request.params.model}"`);
    return rollout.status();
  });
  app.post<{ Params: { model: string; action: string } }>(
    '/admin/rollouts/:model/:action',
    { preHandler: guard },
    async (request) => {
      const { model, action } = request.params;
      const rollout = live.rollouts.get(model);
      if (!rollout) throw gatewayError('ROLLOUT_UNKNOWN', `"${model}"`);
      if (action !== 'pause' && action !== 'resume' && action !== 'abort')
        throw gatewayError('HTTP_NOT_FOUND', `POST ${request.url}: the actions are pause, resume and abort`);
      let done: boolean;
      try {
        done = await rollout.act(action);
      } catch (error) {
        if (error instanceof RolloutStoreUnavailableError)
          throw gatewayError('ROLLOUT_STORE_UNAVAILABLE', error.message, { cause: error });
        throw error;
      }
      if (!done)
        throw gatewayError('ROLLOUT_STATE', `cannot ${action} a rollout that is ${rollout.state.status}`);
      return rollout.status();
    },
  );

  type DrainRoute = { Params: UpstreamParams; Body: DrainBody; Querystring: DrainQuery };
  app.post<DrainRoute>('/admin/upstreams/:upstream/drain', { preHandler: guard }, drainRoute(false));
  app.post<DrainRoute>('/admin/upstreams/:upstream/undrain', { preHandler: guard }, drainRoute(true));
}
