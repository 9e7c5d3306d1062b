import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  Metadata,
  Server,
  ServerCredentials,
  status as Status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { GatewayError } from '../errors.js';
import { requestIdFrom } from '../http/context.js';
import type { ModelRequestHandler } from '../http/model-request.js';
import {
  inferenceService,
  type ModelInferRequest,
  type ModelInferResponse,
} from '../shared/grpc/inference.js';
import type { Logger } from '../shared/logger.js';
import { grpcResponse, restBody } from './infer-body.js';

export interface GatewayGrpcOptions {
  handle: ModelRequestHandler;
  lifecycle: { draining: boolean };
  host: string;
  port: number;
  /** limits.body_bytes: a larger message is refused (RESOURCE_EXHAUSTED) before it is decoded. */
  maxMessageBytes: number;
  logger: Logger;
}

export interface GatewayGrpc {
  port: number;
  close(): Promise<void>;
  forceClose(): void;
}

/**
 * The gateway's gRPC front door: inference.GRPCInferenceService's ModelInfer as a ModelRequest
 * through the same handler and pipeline as POST /v2/models/{m}/infer (src/http/model-request.ts),
 * so auth (authorization / x-api-key metadata), rate limits, shedding, routing by the user key in
 * the metadata, cache, fallbacks, shadows and the prediction log all apply. ServerLive and
 * ServerReady answer from the gateway's own state; the metadata calls are not served yet
 * (UNIMPLEMENTED).
 */
export async function startGatewayGrpc(options: GatewayGrpcOptions): Promise<GatewayGrpc> {
  const { handle, lifecycle, logger } = options;
  const server = new Server({ 'grpc.max_receive_message_length': options.maxMessageBytes });

  const ModelInfer = (
    call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>,
    done: sendUnaryData<ModelInferResponse>,
  ): void => {
    const receivedAt = performance.now();
    const headers = callHeaders(call.metadata, call.getDeadline(), Date.now());
    const requestId = requestIdFrom(headers);
    const request = call.request;
    const raw = request.raw_input_contents.length > 0;
    let body: Buffer;
    try {
      body = Buffer.from(JSON.stringify(restBody(request)));
    } catch (error) {
      done(failure(error, requestId));
      return;
    }
    handle({ endpoint: 'infer', model: request.model_name, headers, body, receivedAt, requestId }).then(
      (answer) => {
        const trailer = new Metadata();
        for (const [name, value] of Object.entries(answer.headers)) trailer.set(name.toLowerCase(), value);
        const body = JSON.parse(answer.json) as Record<string, unknown>;
        if (answer.status !== 200) {
          const { message, code } = errorOf(body);
          if (code) trailer.set('x-switchyard-error-code', code);
          done({ code: grpcStatus(answer.status), details: message, metadata: trailer });
          return;
        }
        let response: ModelInferResponse;
        try {
          response = grpcResponse(body as Parameters<typeof grpcResponse>[0], raw);
        } catch (error) {
          done(failure(error, requestId));
          return;
        }
        done(null, response, trailer);
      },
      (error: unknown) => {
        logger.error({ err: error, request_id: requestId }, 'grpc request failed');
        done(failure(error, requestId));
      },
    );
  };

  server.addService(inferenceService(), {
    ServerLive: (_call: unknown, done: sendUnaryData<{ live: boolean }>) => done(null, { live: true }),
    ServerReady: (_call: unknown, done: sendUnaryData<{ ready: boolean }>) =>
      done(null, { ready: !lifecycle.draining }),
    ModelInfer,
  });
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    port,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    forceClose: () => server.forceShutdown(),
  };
}

/**
 * The gateway's HTTP statuses as gRPC codes (gRPC's status code doc and its HTTP mapping), with
 * the gateway's own choices where the issue asks for them: a spent budget is DEADLINE_EXCEEDED,
 * a rate limit RESOURCE_EXHAUSTED (retry-after in the trailers), a failed runtime UNAVAILABLE.
 */
export function grpcStatus(httpStatus: number): Status {
  switch (httpStatus) {
    case 400:
      return Status.INVALID_ARGUMENT;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.NOT_FOUND;
    case 408:
    case 504:
      return Status.DEADLINE_EXCEEDED;
    case 413:
    case 429:
    case 431:
      return Status.RESOURCE_EXHAUSTED;
    case 502:
    case 503:
      return Status.UNAVAILABLE;
    default:
      return Status.INTERNAL;
  }
}

/** The message and code of an error answer, in the protocol's shape or the gateway's. */
function errorOf(body: Record<string, unknown>): { message: string; code?: string } {
  const error = body.error;
  if (typeof error === 'string')
    return { message: error, ...(typeof body.code === 'string' ? { code: body.code } : {}) };
  if (typeof error === 'object' && error !== null) {
    const { message, code } = error as { message?: unknown; code?: unknown };
    return { message: String(message), ...(typeof code === 'string' ? { code } : {}) };
  }
  return { message: 'request failed' };
}

function failure(error: unknown, requestId: string): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set('x-request-id', requestId);
  if (error instanceof GatewayError) {
    metadata.set('x-switchyard-error-code', error.code);
    return { code: grpcStatus(error.status), details: error.message, metadata };
  }
  return { code: Status.INTERNAL, details: 'internal error', metadata };
}

/**
 * What the pipeline reads from HTTP headers, from the call's metadata (every text entry: the
 * API key, the user key for routing, trace context, the request id), and the time left before
 * the call's deadline as x-request-timeout-ms, the caller's budget.
 */
function callHeaders(metadata: Metadata, deadline: Date | number, now: number): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === 'string' && !key.startsWith(':') && !key.startsWith('grpc-')) headers[key] = value;
  }
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(at)) headers['x-request-timeout-ms'] = String(Math.max(0, at - now));
  return headers;
}
