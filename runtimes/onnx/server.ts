import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Span } from '@opentelemetry/api';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { InferResponse, ModelMetadata, ServerMetadata } from '../../src/protocol/oip.js';
import type { BatchResult } from './batcher/message.js';
import { RuntimeError, badRequest, notFound } from './errors.js';
import type { RequestOutcome, RuntimeMetrics } from './metrics.js';
import {
  latestReadyVersion,
  type ModelVersion,
  type Repository,
  type RepositoryModel,
} from './repository/load.js';
import { decodeRequest, encodeOutput } from './tensors.js';

export const RUNTIME_NAME = 'switchyard-onnx';
export const RUNTIME_VERSION = '0.1.0';

export interface RuntimeState {
  repository: Repository;
  metrics: RuntimeMetrics;
  /** Every version has loaded or failed. */
  loaded: boolean;
  /** SIGTERM received: not ready, finishing what it holds. */
  draining: boolean;
  /** Inference requests that passed decoding and were queued, and those answered 200. */
  accepted: number;
  answered: number;
}

type InferParams = { model: string; version?: string };

const tracer = trace.getTracer('switchyard-runtime');

/** Fastify handles I/O only; batching and inference live in the repository's batchers. */
export function buildRuntimeApp(
  state: RuntimeState,
  options: { bodyLimit: number; logger: FastifyBaseLogger; addedLatencyMs?: number },
): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    // A line per inference request would cost more than the request; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    // While draining, requests that still arrive on open connections are served, not refused.
    return503OnClosing: false,
  });
  const { repository, metrics } = state;

  // OIP clients do not all send a content type; the body is JSON whatever it says.
  // Fastify's own text/plain parser would hand the raw string on; every body here is JSON.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error('request body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });

  app.addHook('onSend', async (_request, reply) => {
    // Each connection closes after its current response, so clients stop reusing it.
    if (state.draining) reply.header('connection', 'close');
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const status = error instanceof RuntimeError ? error.status : (error.statusCode ?? 500);
    if (status >= 500 && !(error instanceof RuntimeError))
      request.log.error({ err: error }, 'request failed');
    const message =
      status === 413 ? `request body is larger than the limit of ${options.bodyLimit} bytes` : error.message;
    void reply.code(status).send({ error: message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `no route ${request.method} ${request.url}` });
  });

  app.get('/v2/health/live', async (_request, reply) => reply.code(200).send());
  app.get('/v2/health/ready', async (_request, reply) =>
    reply.code(state.loaded && !state.draining ? 200 : 503).send(),
  );
  app.get('/v2', async (): Promise<ServerMetadata> => ({
    name: RUNTIME_NAME,
    version: RUNTIME_VERSION,
    extensions: [],
  }));

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
    // The protocol answers "not ready" with a 4xx status.
    return reply.code(version?.state === 'ready' ? 200 : 400).send();
  };
  app.get('/v2/models/:model/ready', readiness);
  app.get('/v2/models/:model/versions/:version/ready', readiness);

  const infer = async (request: FastifyRequest<{ Params: InferParams }>, reply: FastifyReply) => {
    const model = repository.models.get(request.params.model);
    // Labels only ever hold names from the repository, so a client cannot grow the series.
    const label = { model: model ? model.name : '_unknown', version: '' };
    let outcome: RequestOutcome = 'error';
    const span = startInferSpan(request);
    try {
      if (!model) throw notFound(`unknown model "${request.params.model}"`);
      const version = pickVersion(model, request.params.version);
      label.version = version.version;
      const decoded = decodeRequest(
        request.body,
        model.config.inputs,
        model.config.outputs,
        model.config.max_batch_size,
      );
      const deadline = deadlineFrom(request.headers['x-request-timeout-ms']);
      state.accepted++;
      const result = await version.batcher!.submit(decoded.inputs, decoded.rows, deadline);
      // Before the added latency, which stands in for a slow model but is no part of the batch.
      recordSpans(span, result, version.version);
      if (options.addedLatencyMs) await sleep(options.addedLatencyMs);
      outcome = 'ok';
      state.answered++;
      void reply.header('server-timing', serverTiming(result));
      const response: InferResponse = {
        model_name: model.name,
        model_version: version.version,
        outputs: decoded.outputs.map((name) => {
          const spec = model.config.outputs.find((o) => o.name === name)!;
          return encodeOutput(name, spec.datatype, result.outputs.get(name)!);
        }),
      };
      const id = (request.body as { id?: string }).id;
      if (id !== undefined) response.id = id;
      return response;
    } catch (error) {
      outcome = outcomeOf(error);
      throw error;
    } finally {
      metrics.requests.inc({ ...label, outcome });
      if (span) endInferSpan(span, outcome);
    }
  };
  app.post('/v2/models/:model/infer', infer);
  app.post('/v2/models/:model/versions/:version/infer', infer);

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

  function findVersion(model: RepositoryModel, version: string): ModelVersion {
    const entry = model.versions.get(version);
    if (!entry) throw notFound(`model "${model.name}" has no version "${version}"`);
    return entry;
  }

  function pickVersion(model: RepositoryModel, version: string | undefined): ModelVersion {
    const entry = version === undefined ? latestReadyVersion(model) : findVersion(model, version);
    if (!entry) throw new RuntimeError(503, `model "${model.name}" has no ready version yet`);
    if (entry.state !== 'ready') {
      const why = entry.reason ? `: ${entry.reason}` : ' (still loading)';
      throw new RuntimeError(503, `model "${model.name}" version "${entry.version}" is not ready${why}`);
    }
    return entry;
  }

  return app;
}

function modelMetadata(model: RepositoryModel, onlyVersion?: string): ModelMetadata {
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

/** `x-request-timeout-ms` is the caller's remaining budget; the batcher drops work past it. */
function deadlineFrom(header: string | string[] | undefined): number {
  if (header === undefined) return Number.POSITIVE_INFINITY;
  const ms = Number(header);
  if (typeof header !== 'string' || header.trim() === '' || !Number.isFinite(ms) || ms < 0) {
    throw badRequest(`x-request-timeout-ms: ${JSON.stringify(header)} is not a number of milliseconds`);
  }
  return performance.now() + ms;
}

function serverTiming(result: BatchResult): string {
  return `queue;dur=${result.queueMs.toFixed(3)}, infer;dur=${result.inferMs.toFixed(3)}, batch;desc="${result.batchRows}"`;
}

function outcomeOf(error: unknown): RequestOutcome {
  if (!(error instanceof RuntimeError))
    return (error as { statusCode?: number }).statusCode === 400 ? 'bad_request' : 'error';
  switch (error.status) {
    case 400:
    case 413:
      return 'bad_request';
    case 404:
      return 'not_found';
    case 503:
      return 'queue_full';
    case 504:
      return 'deadline';
    default:
      return 'error';
  }
}

/** A span only when a tracer provider is registered; otherwise tracing costs nothing. */
function startInferSpan(request: FastifyRequest<{ Params: InferParams }>): Span | undefined {
  const parent = propagation.extract(ROOT_CONTEXT, request.headers);
  const span = tracer.startSpan(
    'runtime.infer',
    { kind: SpanKind.SERVER, attributes: { 'switchyard.model': request.params.model } },
    parent,
  );
  if (!span.isRecording()) return undefined;
  return span;
}

/** runtime.queue and runtime.session_run, placed back in time from the batch's own durations. */
function recordSpans(span: Span | undefined, result: BatchResult, version: string): void {
  if (!span) return;
  span.setAttributes({
    'switchyard.version': version,
    'switchyard.batch_size': result.batchRows,
    'switchyard.runtime.queue_ms': result.queueMs,
    'switchyard.runtime.infer_ms': result.inferMs,
  });
  const context = trace.setSpan(ROOT_CONTEXT, span);
  const end = performance.now();
  const runStart = end - result.inferMs;
  tracer.startSpan('runtime.queue', { startTime: runStart - result.queueMs }, context).end(runStart);
  tracer
    .startSpan(
      'runtime.session_run',
      { startTime: runStart, attributes: { 'switchyard.batch_size': result.batchRows } },
      context,
    )
    .end(end);
}

function endInferSpan(span: Span, outcome: RequestOutcome): void {
  span.setAttribute('switchyard.outcome', outcome);
  // A refused request (bad input, unknown model) is the caller's fault, not a runtime error.
  if (outcome === 'error' || outcome === 'queue_full' || outcome === 'deadline') {
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  }
  span.end();
}
