import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { encodeAnswerPayload } from '../../src/shared/http/answer-encoding.js';
import { limitedBodyStream } from '../../src/shared/http/body-stream.js';
import type { ClientLimits } from '../../src/shared/http/client-limits.js';
import type { ModelMetadata, ServerMetadata } from '../../src/shared/oip.js';
import { serverMetadata } from '../../src/shared/server-metadata.js';
import { RuntimeError, notFound } from './errors.js';
import { BINARY_TYPE, HEADER_LENGTH, binaryBody } from '../../src/shared/binary-tensors.js';
import { parseInferBody, type InferBody } from './body.js';
import { createRuntimeServer, errorResponse } from './http.js';
import { createInfer, findVersion, jsonAnswer, type HttpAnswer } from './infer.js';
import { runtimeReady } from './readiness.js';
import { latestReadyVersion, type RepositoryModel } from './repository/load.js';
import type { RuntimeState } from './state.js';

export const RUNTIME_NAME = 'switchyard-onnx';

type InferParams = { model: string; version?: string };

/**
 * Fastify handles I/O only; batching and inference live in the repository's batchers. The infer
 * route's hot path is answered by the node:http server in front of Fastify (see http.ts), with the
 * same `infer` as the Fastify route here.
 */
export function buildRuntimeApp(
  state: RuntimeState,
  options: {
    bodyLimit: number;
    /** Bodies nesting arrays and objects deeper are refused with 400 before they are parsed. */
    jsonDepth: number;
    logger: FastifyBaseLogger;
    addedLatencyMs?: number;
    clientLimits: ClientLimits;
  },
): FastifyInstance {
  const { repository, metrics } = state;
  const infer = createInfer(state, { addedLatencyMs: options.addedLatencyMs });
  const app = Fastify({
    loggerInstance: options.logger,
    // A line per inference request would cost more than the request; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    // While draining, requests that still arrive on open connections are served, not refused.
    return503OnClosing: false,
    // The node:http server answers what its parser refuses (src/shared/http/client-errors.ts):
    // Fastify's own answer would follow it on the same socket.
    clientErrorHandler: () => {},
    serverFactory: (handler, settings) =>
      createRuntimeServer(handler, {
        infer,
        bodyLimit: options.bodyLimit,
        jsonDepth: options.jsonDepth,
        draining: () => state.draining,
        logger: options.logger,
        keepAliveTimeout: Number(settings.keepAliveTimeout),
        connectionTimeout: Number(settings.connectionTimeout),
        clientLimits: options.clientLimits,
        onRefused: (reason) => metrics.httpRefused.inc({ reason }),
      }),
  });

  // A body in gzip or deflate is inflated as it arrives, held to the limit decoded, as on the
  // fast path (src/shared/http/body-stream.ts).
  app.addHook('preParsing', async (request, _reply, payload) =>
    limitedBodyStream(request.headers, payload, options.bodyLimit),
  );
  // OIP clients do not all send a content type; the body is JSON whatever it says, or JSON and
  // binary tensors (body.ts).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, parseInferBody(body as Buffer, request.headers, options.jsonDepth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const { status, message } = errorResponse(error, options.bodyLimit);
    if (status >= 500 && !(error instanceof RuntimeError))
      request.log.error({ err: error }, 'request failed');
    void reply.code(status).send({ error: message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `no route ${request.method} ${request.url}` });
  });

  // Health and server metadata follow the Open Inference Protocol REST document
  // (kserve/open-inference-protocol, specification/protocol/inference_rest.md, protocol v2):
  // `{"live": bool}`, `{"ready": bool}`, `{"name", "version", "extensions"}`. The document gives
  // only the 200 answer; a server that is not ready answers 503 with `{"ready": false}` (as the
  // earlier KServe v2 text said, the status is the result: a Kubernetes probe reads only that).
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_request, reply) => {
    const ready = runtimeReady(state);
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  const metadata = async (): Promise<ServerMetadata> => serverMetadata(RUNTIME_NAME);
  app.get('/v2', metadata);
  app.get('/v2/', metadata);

  app.get<{ Params: InferParams }>('/v2/models/:model', async (request) =>
    modelMetadata(findModel(request.params)),
  );
  app.get<{ Params: Required<InferParams> }>('/v2/models/:model/versions/:version', async (request) => {
    const model = findModel(request.params);
    findVersion(model, request.params.version);
    return modelMetadata(model, request.params.version);
  });

  const readiness = async (request: FastifyRequest<{ Params: InferParams }>, reply: FastifyReply) => {
    const model = findModel(request.params);
    const version = request.params.version
      ? findVersion(model, request.params.version)
      : latestReadyVersion(model);
    // `{"name", "ready"}` (inference_rest.md, "Model Ready"); "not ready" keeps the 4xx status
    // KServe's v2 text gave it, so a client that reads only the status reads it right.
    const ready = version?.state === 'ready';
    return reply.code(ready ? 200 : 400).send({ name: model.name, ready });
  };
  app.get('/v2/models/:model/ready', readiness);
  app.get('/v2/models/:model/versions/:version/ready', readiness);

  // Infer URLs the server in front does not take (escaped characters, a query string).
  const inferRoute = async (request: FastifyRequest<{ Params: InferParams }>, reply: FastifyReply) => {
    // A POST without a body reaches no content type parser.
    const body: InferBody = (request.body as InferBody | undefined) ?? {
      request: undefined,
      binary: undefined,
    };
    const answer = await new Promise<HttpAnswer & { serverTiming: string }>((resolve, reject) =>
      infer(request.params.model, request.params.version, body, request.headers, {
        encode: jsonAnswer,
        answer: (encoded: HttpAnswer, serverTiming) => resolve({ ...encoded, serverTiming }),
        fail: reject,
      }),
    );
    void reply.header('server-timing', answer.serverTiming);
    if (answer.tensors === undefined) {
      return reply.header('content-type', 'application/json; charset=utf-8').send(answer.json);
    }
    const { body: bytes, headerLength } = binaryBody(answer.json, answer.tensors);
    return reply.header('content-type', BINARY_TYPE).header(HEADER_LENGTH, headerLength).send(bytes);
  };
  app.post('/v2/models/:model/infer', inferRoute);
  app.post('/v2/models/:model/versions/:version/infer', inferRoute);
  // Large infer answers gzipped for a client that accepts it, as on the fast path.
  app.addHook('onSend', async (request, reply, payload) =>
    request.routeOptions.url?.endsWith('/infer')
      ? encodeAnswerPayload(request.headers['accept-encoding'], payload, (name, value) =>
          reply.header(name, value),
        )
      : payload,
  );

  app.get('/metrics', async (_request, reply) => {
    for (const model of repository.models.values()) {
      for (const version of model.versions.values()) {
        const labels = { model: model.name, version: version.version };
        metrics.queueDepth.set(labels, version.batcher?.depth() ?? 0);
        metrics.versionReady.set(labels, version.state === 'ready' ? 1 : 0);
        if (version.provider) metrics.providerInfo.set({ ...labels, provider: version.provider }, 1);
      }
    }
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  function findModel(params: InferParams): RepositoryModel {
    const model = repository.models.get(params.model);
    if (!model) throw notFound(`unknown model "${params.model}"`);
    return model;
  }

  return app;
}

/** A model's metadata, of one version or of all; over HTTP and gRPC. */
export function modelMetadata(model: RepositoryModel, onlyVersion?: string): ModelMetadata {
  // Every served model takes its rows along a first, variable dimension.
  const batchDim = [-1];
  const versions = [...model.versions.values()].filter((v) => !onlyVersion || v.version === onlyVersion);
  return {
    name: model.name,
    versions: versions.map((v) => v.version),
    platform: 'onnxruntime',
    inputs: model.config.inputs.map((i) => ({
      name: i.name,
      datatype: i.datatype,
      shape: [...batchDim, ...i.dims],
    })),
    outputs: model.config.outputs.map((o) => ({
      name: o.name,
      datatype: o.datatype,
      shape: [...batchDim, ...o.dims],
    })),
    parameters: {
      max_batch_size: model.config.max_batch_size,
      version_states: Object.fromEntries(
        versions.map((v) => [
          v.version,
          {
            state: v.state,
            ...(v.provider ? { provider: v.provider } : {}),
            ...(v.reason ? { reason: v.reason } : {}),
          },
        ]),
      ),
    },
  };
}
