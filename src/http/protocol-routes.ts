import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, gatewayError } from '../errors.js';
import type { ActiveGateway } from '../gateway/active.js';
import { modelReady, serverReady } from '../gateway/readiness.js';
import { serverMetadata } from '../shared/server-metadata.js';
import { sendError } from './error-shape.js';
import { modelMetadata } from './metadata.js';

/** The name `GET /v2` gives the gateway. */
export const GATEWAY_NAME = 'switchyard';

type ModelParams = { model: string; version?: string };

/**
 * The Open Inference Protocol's routes around inference, on the gateway: health, server metadata,
 * model metadata and model readiness, after the OIP REST document (kserve/open-inference-protocol,
 * specification/protocol/inference_rest.md, protocol v2). Health and server metadata answer
 * without a key, as a probe or a client's first call does; a model's metadata and readiness need
 * a key with the `infer` scope, like its inference. src/gateway/readiness.ts says what ready is.
 */
export function registerProtocolRoutes(
  app: FastifyInstance,
  active: ActiveGateway,
  lifecycle: { draining: boolean },
): void {
  app.get('/v2/health/live', async () => ({ live: true }));
  // The document gives only the 200 answer; not ready is 503 with `{"ready": false}`, so a probe
  // that reads the status and a client that reads the body agree.
  app.get('/v2/health/ready', async (_request, reply) => {
    const ready = serverReady(active.version, lifecycle.draining);
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  const metadata = async () => serverMetadata(GATEWAY_NAME);
  app.get('/v2', metadata);
  app.get('/v2/', metadata);

  const readiness = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const gateway = active.version;
    const tenant = await gateway.authenticate(request.headers, 'infer');
    if (tenant instanceof GatewayError) return sendError(reply, tenant, request);
    const { model, version } = request.params;
    const ready = modelReady(gateway, lifecycle.draining, model, version);
    if (ready === undefined) return sendError(reply, unknownModel(gateway, model, version), request);
    return reply.code(ready ? 200 : 503).send({ name: model, ready });
  };
  app.get('/v2/models/:model/ready', readiness);
  app.get('/v2/models/:model/versions/:version/ready', readiness);

  // Reading a version's metadata needs only `infer`: pinning it for inference needs `pin`.
  const metadataRoute = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const gateway = active.version;
    const tenant = await gateway.authenticate(request.headers, 'infer');
    if (tenant instanceof GatewayError) return sendError(reply, tenant, request);
    const { model, version } = request.params;
    const built = gateway.models.get(model);
    const metadata = built && (await modelMetadata(model, built.config, gateway.pools, version));
    if (!metadata) return sendError(reply, unknownModel(gateway, model, version), request);
    return metadata;
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
  app.get<{ Params: ModelParams }>('/v1/models/:model', async (request, reply) => {
    const gateway = active.version;
    const tenant = await gateway.authenticate(request.headers, 'infer');
    if (tenant instanceof GatewayError) return sendError(reply, tenant, request);
    const { model } = request.params;
    const ready = modelReady(gateway, lifecycle.draining, model);
    if (ready === undefined) return sendError(reply, unknownModel(gateway, model), request);
    return reply.code(ready ? 200 : 503).send({ name: model, ready });
  });
}

/** Why a model (or one of its versions) is not served: the model, or only the version, is unknown. */
function unknownModel(gateway: ActiveGateway['version'], model: string, version?: string): GatewayError {
  if (!gateway.models.has(model)) return gatewayError('MODEL_UNKNOWN', `"${model}"`);
  return gatewayError('MODEL_UNKNOWN_VERSION', `"${model}" has no variant serving version "${version}"`);
}
