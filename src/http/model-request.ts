import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { GatewayError } from '../errors.js';
import { gatewayError } from '../errors.js';
import type { ActiveGateway } from '../gateway/active.js';
import type { EndpointKind } from '../pipeline/stage.js';
import type { Logger } from '../shared/logger.js';
import { boundLabels } from '../telemetry/bound-labels.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import {
  predictionRecord,
  refusalRecord,
  roundMs,
  type PredictionLog,
} from '../telemetry/prediction-log/index.js';
import { createRequestLog, type RequestLogFields } from '../telemetry/request-log.js';
import { formatServerTiming } from '../telemetry/server-timing.js';
import { requestTracer } from '../telemetry/tracing.js';
import { budgetMs, createContext } from './context.js';

/** A model request as both HTTP front doors (src/http/model-server.ts and Fastify) hand it over. */
export interface ModelRequest {
  endpoint: EndpointKind;
  model: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (undefined when there was none). */
  body: unknown;
  /** performance.now() when the request arrived. */
  receivedAt: number;
  /** Decided once when the request arrived (requestIdFrom): its answer, log line and record carry it. */
  requestId: string;
  /** Fastify's per-request logger, or the gateway's own. */
  log: Logger;
}

/** What goes back to the client: the body is JSON text. */
export interface ModelAnswer {
  status: number;
  headers: Record<string, string>;
  json: string;
}

export interface ModelRequestDeps {
  active: ActiveGateway;
  metrics: GatewayMetrics;
  /** One record per answered model request, written behind the answer. */
  predictionLog: PredictionLog;
  /** Set on SIGTERM: new requests are refused, those running finish. */
  lifecycle: { draining: boolean };
  /** The gateway's logger: the request lines go to it whichever front door took the request. */
  logger: Logger;
}

export type ModelRequestHandler = (request: ModelRequest) => Promise<ModelAnswer>;

/**
 * Runs a model request through its model's pipeline of stages and turns the outcome into an
 * answer, with its metrics, its request log line and its prediction record. It knows nothing of
 * HTTP framing: reading the body and writing the answer belong to the front doors.
 */
export function createModelRequestHandler(deps: ModelRequestDeps): ModelRequestHandler {
  const { active, metrics, lifecycle, predictionLog } = deps;
  const requestLog = createRequestLog(deps.logger);
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

  // Refused before any pipeline ran, but still answered: one log line and one record each.
  function refuse(request: ModelRequest, error: GatewayError): ModelAnswer {
    const { requestId } = request;
    const latencyMs = performance.now() - request.receivedAt;
    const { model, endpoint } = request;
    requestLog({
      request_id: requestId,
      model,
      endpoint,
      status: error.status,
      duration_ms: roundMs(latencyMs),
      fallback: null,
      code: error.code,
    });
    predictionLog.write(refusalRecord({ requestId, model, endpoint, error, latencyMs, at: Date.now() }));
    return errorAnswer(error, requestId);
  }

  return async function handleModelRequest(request) {
    if (lifecycle.draining) return refuse(request, gatewayError('GATEWAY_DRAINING'));
    const { endpoint, receivedAt } = request;
    const gateway = active.enter();
    try {
      const model = gateway.models.get(request.model);
      if (!model) return refuse(request, gatewayError('MODEL_UNKNOWN', `"${request.model}"`));
      const { pipeline, config } = model;
      const ctx = createContext({
        requestId: request.requestId,
        endpoint,
        model: request.model,
        headers: request.headers,
        body: request.body,
        receivedAt,
        budgetMs: budgetMs(request.headers, config.budget_ms),
        stageCount: pipeline.stageNames.length,
      });
      const span = traceRequest?.(request.headers, request.model, endpoint, receivedAt);
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
      const logged: RequestLogFields = {
        request_id: ctx.requestId,
        model: ctx.model,
        endpoint,
        variant,
        version: ctx.variant?.version,
        status: response.status,
        duration_ms: roundMs(finished - receivedAt),
        fallback:
          result.ok && result.fallback ? `${result.fallback.kind}; reason=${result.fallback.reason}` : null,
      };
      if (!result.ok) logged.code = result.error.code;
      requestLog(logged);
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
      const headers = ctx.headersOut;
      headers['x-request-id'] = ctx.requestId;
      headers['server-timing'] = formatServerTiming({
        stageNames: pipeline.stageNames,
        stageMs: ctx.stageMs,
        runtimeTiming: ctx.runtimeTiming,
        reply: result,
        pipelineMs,
        totalMs: finished - receivedAt,
        budgetLeftMs: ctx.deadline - finished,
      });
      if (span) headers.traceparent = span.end(ctx, result, response.status, finished);
      return { status: response.status, headers, json: JSON.stringify(response.body) };
    } finally {
      active.leave(gateway);
    }
  };
}

/** An error as the client sees it: its status, its own headers (Retry-After, …) and the request id. */
export function errorAnswer(error: GatewayError, requestId: string): ModelAnswer {
  return {
    status: error.status,
    headers: { ...error.extra.headers, 'x-request-id': requestId },
    json: JSON.stringify(error.toJSON()),
  };
}
