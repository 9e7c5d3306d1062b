import { performance } from 'node:perf_hooks';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { GatewayError, gatewayError } from '../errors.js';
import type { ActiveGateway } from '../gateway/active.js';
import type { ModelStates } from '../gateway/model-state.js';
import type { EndpointKind } from '../pipeline/stage.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import {
  predictionRecord,
  refusalRecord,
  roundMs,
  type PredictionLog,
} from '../telemetry/prediction-log/index.js';
import { boundLabels } from '../telemetry/bound-labels.js';
import { formatServerTiming } from '../telemetry/server-timing.js';
import { requestTracer } from '../telemetry/tracing.js';
import { registerAdminRoutes } from './admin.js';
import { budgetMs, createContext, requestIdFrom } from './context.js';
import { modelMetadata } from './metadata.js';

export interface GatewayHttpOptions {
  active: ActiveGateway;
  metrics: GatewayMetrics;
  /** Per-model live state (breakers, shadows, queue) for the admin stats. */
  models: ModelStates;
  logger: FastifyBaseLogger;
  /** One record per answered model request, written behind the answer. */
  predictionLog: PredictionLog;
  bodyLimit: number;
  /** Set on SIGTERM: not ready, new requests refused, those running finish. */
  lifecycle: { draining: boolean };
}

type ModelParams = { model: string };

/**
 * Fastify handles I/O only: parsing, routes, serialisation. What happens to a model request is
 * decided by the model's pipeline of stages (src/pipeline/build.ts).
 */
export function buildGatewayHttp(options: GatewayHttpOptions): FastifyInstance {
  const { active, metrics, lifecycle, predictionLog } = options;
  // Undefined unless tracing is set up: decided here, once, so untraced requests pay nothing.
  const traceRequest = requestTracer();
  const requestCounter = boundLabels((l) => metrics.requests.labels(l), [
    'model',
    'variant',
    'version',
    'endpoint',
    'outcome',
  ] as const);
  const requestHistogram = boundLabels((l) => metrics.requestDuration.labels(l), [
    'model',
    'variant',
    'version',
    'outcome',
  ] as const);
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    return503OnClosing: false,
    // Node's default (5 s) is shorter than the keep-alive of most clients' pools, which then
    // race a closing socket; 65 s outlasts the usual 60 s idle timeout of load balancers.
    keepAliveTimeout: 65_000,
  });

  // Fastify's own text/plain parser would hand the raw string on; every body here is JSON.
  // Every body is JSON, whatever its content type says. Plain JSON.parse rather than Fastify's
  // secure-json-parse: no stage merges a client object into another, so a "__proto__" key
  // stays an own property and cannot pollute anything, and the prototype scan cost ~1% of CPU.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(gatewayError('HTTP_MALFORMED_JSON'), undefined);
    }
  });
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    let failure: GatewayError;
    if (error instanceof GatewayError) failure = error;
    else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      failure = gatewayError('HTTP_BODY_TOO_LARGE', `over ${options.bodyLimit} bytes`);
    else if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.statusCode === 400)
      failure = gatewayError('HTTP_MALFORMED_JSON');
    else {
      request.log.error({ err: error }, 'request failed');
      failure = gatewayError('INTERNAL');
    }
    void reply
      .code(failure.status)
      .header('x-request-id', requestIdFrom(request.headers))
      .send(failure.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const failure = gatewayError('HTTP_NOT_FOUND', `${request.method} ${request.url.split('?')[0]}`);
    void reply.code(404).send(failure.toJSON());
  });
  app.addHook('onSend', async (_request, reply) => {
    if (lifecycle.draining) reply.header('connection', 'close');
  });

  const handle = (endpoint: EndpointKind, modelOf: (params: Record<string, string>) => string | undefined) =>
    async function modelRequest(
      request: FastifyRequest<{ Params: Record<string, string> }>,
      reply: FastifyReply,
    ) {
      const receivedAt = performance.now();
      const modelName = modelOf(request.params);
      if (modelName === undefined) {
        return sendError(reply, gatewayError('HTTP_NOT_FOUND', `${request.method} ${request.url}`), request);
      }
      // Refused before any pipeline ran, but still answered: one log line and one record each.
      const refuse = (error: GatewayError) => {
        const requestId = requestIdFrom(request.headers);
        const latencyMs = performance.now() - receivedAt;
        request.log.info(
          {
            request_id: requestId,
            model: modelName,
            endpoint,
            status: error.status,
            duration_ms: roundMs(latencyMs),
            fallback: null,
            code: error.code,
          },
          'request',
        );
        predictionLog.write(
          refusalRecord({ requestId, model: modelName, endpoint, error, latencyMs, at: Date.now() }),
        );
        return sendError(reply, error, request, requestId);
      };
      if (lifecycle.draining) return refuse(gatewayError('GATEWAY_DRAINING'));
      const gateway = active.enter();
      try {
        const model = gateway.models.get(modelName);
        if (!model) return refuse(gatewayError('MODEL_UNKNOWN', `"${modelName}"`));
        const { pipeline, config } = model;
        const ctx = createContext({
          endpoint,
          model: modelName,
          headers: request.headers,
          body: request.body,
          receivedAt,
          budgetMs: budgetMs(request.headers, config.budget_ms),
          stageCount: pipeline.stageNames.length,
        });
        const span = traceRequest?.(request.headers, modelName, endpoint, receivedAt);
        const ranAt = performance.now();
        const result = await (span ? span.run(() => pipeline.run(ctx)) : pipeline.run(ctx));
        const pipelineMs = performance.now() - ranAt;
        const response = ctx.response ?? { status: 500, body: gatewayError('INTERNAL').toJSON() };
        if (!result.ok && result.error.status >= 500) {
          request.log.warn(
            { request_id: ctx.requestId, model: ctx.model, code: result.error.code, err: result.error.cause },
            result.error.message,
          );
        }
        const finished = performance.now();
        const variant = ctx.variant?.name ?? '';
        const outcome = result.ok
          ? result.fallback
            ? 'fallback'
            : 'ok'
          : response.status < 500
            ? 'client_error'
            : 'error';
        const version = ctx.variant?.version ?? '';
        requestCounter(ctx.model, variant, version, endpoint, outcome).inc();
        requestHistogram(ctx.model, variant, version, outcome).observe((finished - receivedAt) / 1000);
        metrics.stageDuration.observe(ctx.model, pipeline.stageNames, ctx.stageMs);
        // One line per request; never the key or the raw features.
        request.log.info(
          {
            request_id: ctx.requestId,
            model: ctx.model,
            endpoint,
            variant,
            version: ctx.variant?.version,
            status: response.status,
            duration_ms: roundMs(finished - receivedAt),
            fallback:
              result.ok && result.fallback
                ? `${result.fallback.kind}; reason=${result.fallback.reason}`
                : null,
            ...(result.ok ? {} : { code: result.error.code }),
          },
          'request',
        );
        // Built later, off the request path: hashing and copying inputs wait for the writer.
        const answeredAt = Date.now();
        predictionLog.write(() =>
          predictionRecord({
            ctx,
            reply: result,
            model: config,
            latencyMs: finished - receivedAt,
            at: answeredAt,
          }),
        );
        void reply
          .code(response.status)
          .headers(ctx.headersOut)
          .header('x-request-id', ctx.requestId)
          .header(
            'server-timing',
            formatServerTiming({
              stageNames: pipeline.stageNames,
              stageMs: ctx.stageMs,
              runtimeTiming: ctx.runtimeTiming,
              reply: result,
              pipelineMs,
              totalMs: finished - receivedAt,
              budgetLeftMs: ctx.deadline - finished,
            }),
          );
        if (span) void reply.header('traceparent', span.end(ctx, result, response.status, finished));
        return response.body;
      } finally {
        active.leave(gateway);
      }
    };

  const byModelParam = (params: Record<string, string>) => params.model;
  app.post('/v2/models/:model/infer', handle('infer', byModelParam));
  // KServe v1 puts the verb after a colon in the last segment: /v1/models/fraud:predict
  app.post(
    '/v1/models/:spec',
    handle('predict', ({ spec }) =>
      spec?.endsWith(':predict') ? spec.slice(0, -':predict'.length) : undefined,
    ),
  );
  app.post('/v1/decisions/:model', handle('decision', byModelParam));

  app.get<{ Params: ModelParams }>('/v2/models/:model', async (request, reply) => {
    const gateway = active.version;
    const tenant = await gateway.authenticate(request.headers, 'infer');
    if (tenant instanceof GatewayError) return sendError(reply, tenant, request);
    const model = gateway.models.get(request.params.model);
    if (!model) return sendError(reply, gatewayError('MODEL_UNKNOWN', `"${request.params.model}"`), request);
    return modelMetadata(request.params.model, model.config, gateway.pools);
  });

  app.get('/livez', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) =>
    lifecycle.draining
      ? reply.code(503).send({ status: 'draining' })
      : { status: 'ready', config: active.version.snapshot.hash },
  );
  app.get('/metrics', async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  registerAdminRoutes(app, active, { models: options.models, metrics });
  return app;
}

function sendError(
  reply: FastifyReply,
  error: GatewayError,
  request: FastifyRequest,
  requestId = requestIdFrom(request.headers),
): FastifyReply {
  return reply
    .code(error.status)
    .headers(error.extra.headers ?? {})
    .header('x-request-id', requestId)
    .send(error.toJSON());
}
