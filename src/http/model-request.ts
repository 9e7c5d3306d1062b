import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { GatewayError, gatewayError, type ErrorShape } from '../errors.js';
import type { ActiveGateway } from '../gateway/active.js';
import type { EndpointKind } from '../pipeline/stage.js';
import type { Logger } from '../shared/logger.js';
import { refusalRecord, roundMs, type PredictionLog } from '../telemetry/prediction-log/index.js';
import { createRequestLog } from '../telemetry/request-log.js';
import { requestTracer } from '../telemetry/tracing.js';
import { budgetMs, createContext } from './context.js';
import { errorParts, errorShapeOf } from './error-shape.js';
import { parseModelBody } from './json-body.js';
import { BINARY_TYPE, HEADER_LENGTH, binaryBody } from '../shared/binary-tensors.js';

/** A model request as both HTTP front doors (src/http/model-server.ts and Fastify) hand it over. */
export interface ModelRequest {
  endpoint: EndpointKind;
  model: string;
  /** The version an infer URL pins (`/v2/models/{m}/versions/{v}/infer`). */
  version?: string;
  headers: IncomingHttpHeaders;
  /**
   * The body's bytes as they came (empty when there was none), parsed here rather than by the
   * front doors: a body refused as JSON then gets its log line and record like any refused request.
   */
  body: Buffer;
  /** performance.now() when the request arrived. */
  receivedAt: number;
  /** Decided once when the request arrived (requestIdFrom): its answer, log line and record carry it. */
  requestId: string;
  /**
   * Why the front door could not make a body of the request (a gRPC message that does not convert
   * to a binary tensor body: src/grpc/infer-body.ts): it is refused with this, before any pipeline
   * runs, as a body refused as JSON is, and gets the same log line and record.
   */
  refusal?: GatewayError;
}

/** What goes back to the client: the body is JSON text, or JSON and binary tensors (`bytes`). */
export interface ModelAnswer {
  status: number;
  headers: Record<string, string>;
  json: string;
  /** The binary tensor extension's body (the JSON, then the tensors), sent instead of `json`. */
  bytes?: { body: Buffer; type: string };
}

export interface ModelRequestDeps {
  active: ActiveGateway;
  /** Where a request refused before its pipeline ran is recorded. */
  predictionLog: PredictionLog;
  /** Set on SIGTERM: new requests are refused, those running finish. */
  lifecycle: { draining: boolean };
  /** The gateway's logger: the request lines go to it whichever front door took the request. */
  logger: Logger;
  /** `limits.json_depth`: bodies nested deeper are refused before they are parsed. */
  jsonDepth: number;
}

export type ModelRequestHandler = (request: ModelRequest) => Promise<ModelAnswer>;

/**
 * Parses a model request's body, runs the request through its model's pipeline (stages, answer,
 * after-phase: see src/pipeline/build.ts) and hands the answer to the front door. A request
 * refused before any pipeline runs (draining, a body that is not JSON or nests too deep, a gRPC
 * message that does not convert, unknown model) still gets its log line and record here. It knows
 * nothing of HTTP framing: reading the body and writing the answer belong to the front doors.
 */
export function createModelRequestHandler(deps: ModelRequestDeps): ModelRequestHandler {
  const { active, lifecycle, predictionLog, jsonDepth } = deps;
  const requestLog = createRequestLog(deps.logger);
  // Undefined unless tracing is set up: decided here, once, so untraced requests pay nothing.
  const traceRequest = requestTracer();

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
    return errorAnswer(error, requestId, errorShapeOf(endpoint));
  }

  return async function handleModelRequest(request) {
    if (lifecycle.draining) return refuse(request, gatewayError('GATEWAY_DRAINING'));
    if (request.refusal) return refuse(request, request.refusal);
    let body: unknown;
    try {
      body = parseModelBody(request.body, request.headers, jsonDepth);
    } catch (error) {
      if (error instanceof GatewayError) return refuse(request, error);
      throw error;
    }
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
        body,
        receivedAt,
        budgetMs: budgetMs(request.headers, config.budget_ms),
        stageCount: pipeline.stageNames.length,
        ...(request.version === undefined ? {} : { pinnedVersion: request.version }),
      });
      const span = traceRequest?.(request.headers, request.model, endpoint, receivedAt);
      // The stages, the answer, then the after-phase (server-timing, metrics, log line, record).
      const finished = await (span ? span.run(() => pipeline.run(ctx)) : pipeline.run(ctx));
      const { response, reply } = finished;
      const headers = ctx.headersOut;
      headers['x-request-id'] = ctx.requestId;
      if (span) headers.traceparent = span.end(ctx, reply, response.status, finished.finishedAt);
      const json = JSON.stringify(response.body);
      if (response.tensors === undefined) return { status: response.status, headers, json };
      // Binary outputs (the binary tensor extension): the JSON's length in its own header.
      const { body: bytes, headerLength } = binaryBody(json, response.tensors);
      headers[HEADER_LENGTH] = String(headerLength);
      return { status: response.status, headers, json: '', bytes: { body: bytes, type: BINARY_TYPE } };
    } finally {
      active.leave(gateway);
    }
  };
}

/**
 * An error as the client sees it: its status, its own headers (Retry-After, …), its code, the
 * request id, and the body in the shape of the endpoint's protocol (src/http/error-shape.ts).
 */
export function errorAnswer(error: GatewayError, requestId: string, shape: ErrorShape): ModelAnswer {
  const { json, headers } = errorParts(error, shape);
  headers['x-request-id'] = requestId;
  return { status: error.status, headers, json };
}
