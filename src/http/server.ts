import { performance } from 'node:perf_hooks';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { GatewayError, gatewayError } from '../errors.js';
import type { RolloutRegistry } from '../delivery/registry.js';
import type { ModelStates } from '../gateway/model-state.js';
import type { ReloadRecord } from '../gateway/reload-record.js';
import type { ModelsView } from '../console/index.js';
import type { EndpointKind } from '../pipeline/stage.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import type { ClientLimits } from '../shared/http/client-limits.js';
import { encodeAnswerPayload } from '../shared/http/answer-encoding.js';
import { BodyProblem } from '../shared/http/body-problem.js';
import { limitedBodyStream } from '../shared/http/body-stream.js';
import { JSON_TYPE } from '../shared/http/fast-path-server.js';
import { registerAdminRoutes } from './admin.js';
import { bodyProblemError } from './body-problem.js';
import { registerConsoleRoutes } from './console.js';
import { requestIdFrom } from './context.js';
import { parseJsonBody } from './json-body.js';
import { createModelRequestHandler, type ModelRequestDeps } from './model-request.js';
import { sendError } from './error-shape.js';
import { createModelServer } from './model-server.js';
import { registerKserveV1Routes, registerProtocolRoutes } from './protocol-routes.js';

const EMPTY_BODY = Buffer.alloc(0);

export interface GatewayHttpOptions extends ModelRequestDeps {
  metrics: GatewayMetrics;
  /** Per-model live state (breakers, shadows, queue) for the admin stats. */
  models: ModelStates;
  /** The running rollouts, for the admin API. */
  rollouts: RolloutRegistry;
  /** The last config reload's outcome, for GET /admin/config. */
  reloads: ReloadRecord;
  /** Per-model figures over the last minute, for GET /admin/models and the console. */
  modelsView: ModelsView;
  bodyLimit: number;
  /** Slow clients and the connection cap, on every route (src/shared/http/client-limits.ts). */
  clientLimits: ClientLimits;
  /** The process logger (src/shared/logger.ts), as Fastify types the one it is given. */
  logger: FastifyBaseLogger;
}

/**
 * Model requests are answered by the node:http server in model-server.ts, through the handler in
 * model-request.ts that runs the model's pipeline of stages (src/pipeline/build.ts). Fastify
 * handles everything else: metadata, health, metrics, admin, unknown routes, and model URLs in an
 * unusual form (escaped characters, a query string), which it answers through the same handler.
 *
 * Why Fastify stays for those: they are cold (a probe a second, a scrape, an operator's call), so
 * its per-request cost, which is why the model routes bypass it, does not matter there; what it
 * does for them would otherwise be hand-written and tested here: routing with path parameters,
 * percent-decoding and query strings, body limits with their errors, content-type parsing, admin
 * bodies, serialisation, 404s and one error handler. It costs the hot path nothing (the fast
 * path sees each request first and hands over only what it does not take) and the process a few
 * milliseconds at start. Request ids are decided once on either door: genReqId here, the fast
 * path's requestId there, both requestIdFrom.
 */
export function buildGatewayHttp(options: GatewayHttpOptions): FastifyInstance {
  const { active, metrics, lifecycle } = options;
  const handleModelRequest = createModelRequestHandler(options);
  // A model's own limit, read per request so that a reload changes it; the gateway's otherwise.
  const bodyLimitOf = (model: string): number =>
    active.version.models.get(model)?.config.limits?.body_bytes ?? options.bodyLimit;
  const app = Fastify({
    loggerInstance: options.logger,
    // request.id is the request's id (x-request-id), decided once here as on the fast path.
    genReqId: (request) => requestIdFrom(request.headers),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    return503OnClosing: false,
    // The node:http server answers what its parser refuses, in the gateway's error shape
    // (src/shared/http/client-errors.ts): Fastify's own answer would follow it on the same socket.
    clientErrorHandler: () => {},
    serverFactory: (fastify) =>
      createModelServer(fastify, {
        handle: handleModelRequest,
        bodyLimitOf,
        bodyLimit: options.bodyLimit,
        draining: () => lifecycle.draining,
        logger: options.logger,
        keepAliveTimeout: 65_000,
        clientLimits: options.clientLimits,
        onRefused: (reason) => metrics.httpRefused.inc({ reason }),
      }),
  });

  // Every body is JSON, whatever its content type says (as on the node:http path): Fastify's own
  // text/plain parser would hand the raw string on. The same parse as the model routes', depth
  // limit included (src/http/json-body.ts), rather than Fastify's secure-json-parse.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string, options.jsonDepth));
    } catch (error) {
      done(error as GatewayError, undefined);
    }
  });
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    let failure: GatewayError;
    if (error instanceof GatewayError) failure = error;
    else if (error instanceof BodyProblem) failure = bodyProblemError(error);
    else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      failure = gatewayError('HTTP_BODY_TOO_LARGE', `over ${options.bodyLimit} bytes`);
    else if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.statusCode === 400)
      failure = gatewayError('HTTP_MALFORMED_JSON');
    else {
      request.log.error({ err: error }, 'request failed');
      failure = gatewayError('INTERNAL');
    }
    void sendError(reply, failure, request);
  });
  app.setNotFoundHandler((request, reply) => {
    const failure = gatewayError('HTTP_NOT_FOUND', `${request.method} ${request.url.split('?')[0]}`);
    void sendError(reply, failure, request);
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
      const model = modelOf(request.params);
      if (model === undefined) {
        return sendError(reply, gatewayError('HTTP_NOT_FOUND', `${request.method} ${request.url}`), request);
      }
      const { version } = request.params;
      const answer = await handleModelRequest({
        endpoint,
        model,
        ...(version === undefined ? {} : { version }),
        headers: request.headers,
        // Fastify leaves it undefined when it read no body (none sent, and no content type).
        body: Buffer.isBuffer(request.body) ? request.body : EMPTY_BODY,
        receivedAt,
        requestId: request.id,
      });
      void reply.code(answer.status).headers(answer.headers);
      if (answer.bytes) return reply.type(answer.bytes.type).send(answer.bytes.body);
      return reply.type(JSON_TYPE).send(answer.json);
    };

  // The model routes in a scope of their own that hands the handler the body's bytes, as the
  // node:http path does: the handler parses them, so a body refused as JSON is logged and recorded.
  // Each body is held to its model's limit (read per request) by the preParsing stream, so the
  // routes' own limit, fixed when they are registered, is set out of its way.
  void app.register(async (models) => {
    models.removeAllContentTypeParsers();
    models.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    const byModelParam = (params: Record<string, string>) => params.model;
    // KServe v1 puts the verb after a colon in the last segment: /v1/models/fraud:predict
    const bySpecParam = ({ spec }: Record<string, string>) =>
      spec?.endsWith(':predict') ? spec.slice(0, -':predict'.length) : undefined;
    models.addHook('preParsing', async (request, _reply, payload) => {
      const params = request.params as Record<string, string>;
      const model = params.model ?? bySpecParam(params);
      const limit = model === undefined ? options.bodyLimit : bodyLimitOf(model);
      return limitedBodyStream(request.headers, payload, limit);
    });
    // Large answers gzipped for a client that accepts it, as on the fast path.
    models.addHook('onSend', async (request, reply, payload) =>
      encodeAnswerPayload(request.headers['accept-encoding'], payload, (name, value) =>
        reply.header(name, value),
      ),
    );
    const routeOptions = { bodyLimit: Number.MAX_SAFE_INTEGER };
    models.post('/v2/models/:model/infer', routeOptions, handle('infer', byModelParam));
    models.post('/v2/models/:model/versions/:version/infer', routeOptions, handle('infer', byModelParam));
    models.post('/v1/models/:spec', routeOptions, handle('predict', bySpecParam));
    models.post('/v1/decisions/:model', routeOptions, handle('decision', byModelParam));
  });

  registerProtocolRoutes(app, active, lifecycle);
  registerKserveV1Routes(app, active, lifecycle);
  app.get('/livez', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) =>
    lifecycle.draining
      ? reply.code(503).send({ status: 'draining' })
      : { status: 'ready', config: active.version.snapshot.hash },
  );
  app.get('/metrics', async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  registerAdminRoutes(app, active, {
    models: options.models,
    metrics,
    rollouts: options.rollouts,
    reloads: options.reloads,
    modelsView: options.modelsView,
  });
  registerConsoleRoutes(app, active);
  return app;
}
