import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Server, ServerCredentials, Metadata, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { ERROR_CODE_HEADER, GatewayError, gatewayError } from '../errors.js';
import type { ActiveGateway } from '../gateway/active.js';
import { protocolAnswers } from '../gateway/protocol-answers.js';
import { requestIdFrom } from '../http/context.js';
import type { ModelAnswer, ModelRequestHandler } from '../http/model-request.js';
import {
  inferenceService,
  type ModelInferRequest,
  type ModelInferResponse,
} from '../shared/grpc/inference.js';
import { tolerantDecoding, undecodableReason } from '../shared/grpc/tolerant-decoding.js';
import type { Logger } from '../shared/logger.js';
import { callHeaders } from './call-headers.js';
import { HEADER_LENGTH } from '../shared/binary-tensors.js';
import { grpcResponse } from './infer-answer.js';
import { inferBody } from './infer-body.js';
import { protocolCalls } from './protocol-calls.js';
import { gatewayFailure, grpcFailure, internalFailure, type GrpcFailure } from './status.js';

export interface GatewayGrpcOptions {
  handle: ModelRequestHandler;
  /** The config version the metadata and readiness calls answer from. */
  active: ActiveGateway;
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

const NO_BODY = Buffer.alloc(0);

/** What a ModelInfer whose bytes were not a ModelInferRequest is taken as: no model, nothing asked. */
const UNREADABLE: ModelInferRequest = {
  model_name: '',
  model_version: '',
  id: '',
  parameters: {},
  inputs: [],
  outputs: [],
  raw_input_contents: [],
};

/**
 * The gateway's gRPC front door, inference.GRPCInferenceService's six calls. ModelInfer is a
 * ModelRequest through the same handler and pipeline as POST /v2/models/{m}/infer (or, with
 * `model_version`, /v2/models/{m}/versions/{v}/infer) in src/http/model-request.ts, so auth
 * (authorization / x-api-key metadata), version pins, rate limits, shedding, routing by the user
 * key in the metadata, cache, fallbacks, shadows, the log line and the prediction record all
 * apply. The call is handed over as a REST binary tensor request (infer-body.ts), so its tensors
 * stay bytes up to the runtime, and its binary answer becomes the response (infer-answer.ts); a
 * message that does not convert, or bytes that are not a message at all, are refused through that
 * handler too. The health, metadata and readiness calls answer as their REST routes (protocol-calls.ts).
 */
export async function startGatewayGrpc(options: GatewayGrpcOptions): Promise<GatewayGrpc> {
  const { handle, logger } = options;
  const server = new Server({ 'grpc.max_receive_message_length': options.maxMessageBytes });

  /** The call's answer: its response and trailing metadata, or its failure. */
  async function infer(
    request: ModelInferRequest,
    headers: IncomingHttpHeaders,
    requestId: string,
    receivedAt: number,
  ): Promise<{ response: ModelInferResponse; trailer: Metadata } | GrpcFailure> {
    let body: Buffer = NO_BODY;
    let refusal: GatewayError | undefined;
    const undecodable = undecodableReason(request);
    if (undecodable !== undefined) {
      // Nothing of it can be read, the model's name included: refused as it is.
      refusal = gatewayError('INPUT_INVALID', undecodable);
      request = UNREADABLE;
    } else {
      try {
        // The binary tensor extension's body, as a REST binary client sends it (infer-body.ts).
        const binary = inferBody(request);
        body = binary.body;
        headers[HEADER_LENGTH] = String(binary.headerLength);
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        refusal = error;
      }
    }
    const answer = await handle({
      endpoint: 'infer',
      model: request.model_name,
      ...(request.model_version === '' ? {} : { version: request.model_version }),
      headers,
      body,
      receivedAt,
      requestId,
      ...(refusal ? { refusal } : {}),
    });
    if (answer.status !== 200) return answerFailure(answer);
    let response: ModelInferResponse;
    try {
      response = grpcResponse(answer, request.raw_input_contents.length > 0);
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      return gatewayFailure(error, requestId);
    }
    const trailer = new Metadata();
    for (const [name, value] of Object.entries(answer.headers)) {
      // The binary answer's layout, which the message does not have.
      if (name !== HEADER_LENGTH) trailer.set(name.toLowerCase(), value);
    }
    return { response, trailer };
  }

  const ModelInfer = (
    call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>,
    done: sendUnaryData<ModelInferResponse>,
  ): void => {
    const receivedAt = performance.now();
    const headers = callHeaders(call.metadata, call.getDeadline(), Date.now());
    const requestId = requestIdFrom(headers);
    infer(call.request, headers, requestId, receivedAt).then(
      (result) => ('response' in result ? done(null, result.response, result.trailer) : done(result)),
      (error: unknown) => {
        logger.error({ err: error, request_id: requestId }, 'grpc request failed');
        done(internalFailure(requestId));
      },
    );
  };

  server.addService(tolerantDecoding(inferenceService()), {
    ...protocolCalls(protocolAnswers(options.active, options.lifecycle), logger),
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

/** A refusal the handler answered (in the protocol's error shape) as the call's failure. */
function answerFailure(answer: ModelAnswer): GrpcFailure {
  const { message, code } = errorOf(JSON.parse(answer.json) as Record<string, unknown>);
  const headers = code ? { ...answer.headers, [ERROR_CODE_HEADER]: code } : answer.headers;
  return grpcFailure(answer.status, message, headers);
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
