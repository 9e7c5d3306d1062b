import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import type { ActiveGateway } from '../gateway/active.js';
import { protocolAnswers } from '../gateway/protocol-answers.js';
import { sendError } from './error-shape.js';

type ModelParams = { model: string; version?: string };

/**
 * The Open Inference Protocol's routes around inference, on the gateway: health, server metadata,
 * model metadata and model readiness, after the OIP REST document (kserve/open-inference-protocol,
 * specification/protocol/inference_rest.md, protocol v2). What they answer, and who may ask, is
 * decided in src/gateway/protocol-answers.ts, which the gRPC front door answers from too; here it
 * is written as HTTP.
 */
export function registerProtocolRoutes(
  app: FastifyInstance,
  active: ActiveGateway,
  lifecycle: { draining: boolean },
): void {
  const answers = protocolAnswers(active, lifecycle);
  app.get('/v2/health/live', async () => ({ live: true }));
  // The document gives only the 200 answer; not ready is 503 with `{"ready": false}`, so a probe
  // that reads the status and a client that reads the body agree.
  app.get('/v2/health/ready', async (_request, reply) => {
    const ready = answers.serverReady();
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  const metadata = async () => answers.serverMetadata();
  app.get('/v2', metadata);
  app.get('/v2/', metadata);

  const readiness = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const { model, version } = request.params;
    const answer = await answers.modelReady(request.headers, model, version);
    if (answer instanceof GatewayError) return sendError(reply, answer, request);
    return reply.code(answer.ready ? 200 : 503).send(answer);
  };
  app.get('/v2/models/:model/ready', readiness);
  app.get('/v2/models/:model/versions/:version/ready', readiness);

  const metadataRoute = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const { model, version } = request.params;
    const answer = await answers.modelMetadata(request.headers, model, version);
    if (answer instanceof GatewayError) return sendError(reply, answer, request);
    return answer;
  };
  app.get('/v2/models/:model', metadataRoute);
  app.get('/v2/models/:model/versions/:version', metadataRoute);
}

/**
 * KServe's v1 data plane beside the OIP (kserve.github.io, "V1 Inference Protocol": `GET /`
 * liveness `{"status": "alive"}`, `GET /v1/models` `{"models": [names]}`, `GET /v1/models/<m>`
 * `{"name", "ready"}`); `:predict` itself is a model route (src/http/server.ts). Readiness is the
 * OIP's (src/gateway/readiness.ts), 503 when not ready as KServe's server answers.
 */
export function registerKserveV1Routes(
  app: FastifyInstance,
  active: ActiveGateway,
  lifecycle: { draining: boolean },
): void {
  app.get('/', async () => ({ status: 'alive' }));
  app.get('/v1/models', async (request, reply) => {
    const gateway = active.version;
    const tenant = await gateway.authenticate(request.headers, 'infer');
    if (tenant instanceof GatewayError) return sendError(reply, tenant, request);
    return { models: [...gateway.models.keys()] };
  });
  const answers = protocolAnswers(active, lifecycle);
  app.get<{ Params: ModelParams }>('/v1/models/:model', async (request, reply) => {
    const answer = await answers.modelReady(request.headers, request.params.model);
    if (answer instanceof GatewayError) return sendError(reply, answer, request);
    return reply.code(answer.ready ? 200 : 503).send(answer);
  });
}
