import type { InferBody } from '../body.js';
import {
  Metadata,
  Server,
  ServerCredentials,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  healthService,
  inferenceService,
  type ModelInferRequest,
  type ModelInferResponse,
  type ModelMetadataResponse,
  type ModelRef,
  type ServerMetadataResponse,
} from '../../../src/shared/grpc/inference.js';
import { tolerantDecoding, undecodableReason } from '../../../src/shared/grpc/tolerant-decoding.js';
import type { Logger } from '../../../src/shared/logger.js';
import { badRequest, notFound, RuntimeError } from '../errors.js';
import { findVersion, type Infer, type InferAnswer, type InferReply } from '../infer.js';
import { latestReadyVersion, type RepositoryModel } from '../repository/load.js';
import { serverMetadata } from '../../../src/shared/server-metadata.js';
import { RUNTIME_NAME, modelMetadata } from '../server.js';
import type { RuntimeState } from '../state.js';
import { callHeaders } from './call-headers.js';
import { healthImplementation } from './health.js';
import { inferBody } from './request.js';
import { grpcAnswer } from './response.js';
import { grpcError } from './status.js';

export interface GrpcListener {
  /** The port it listens on (the one chosen, when asked for 0). */
  port: number;
  /** Stops taking calls, finishes those in flight, closes. */
  close(): Promise<void>;
  /** Ends the calls still in flight at once (the grace ran out). */
  forceClose(): void;
}

export interface GrpcListenerOptions {
  host: string;
  port: number;
  /** The HTTP body limit: a larger message is refused (RESOURCE_EXHAUSTED) before it is decoded. */
  maxMessageBytes: number;
  logger: Logger;
}

type Unary<Request, Response> = (
  call: ServerUnaryCall<Request, Response>,
  done: sendUnaryData<Response>,
) => void;

/**
 * The runtime's `inference.GRPCInferenceService` (src/shared/grpc/inference.proto), beside HTTP:
 * health and metadata answer as the HTTP routes do (server.ts), and ModelInfer goes through the
 * same `infer` (infer.ts: validation, the version's batcher, metrics, tracing) with its answer
 * written as protobuf instead of JSON.
 */
export async function startGrpcListener(
  state: RuntimeState,
  infer: Infer,
  options: GrpcListenerOptions,
): Promise<GrpcListener> {
  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
  });
  server.addService(
    tolerantDecoding(inferenceService()),
    serviceImplementation(state, infer, options.logger),
  );
  server.addService(healthService(), healthImplementation(state));
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

function serviceImplementation(
  state: RuntimeState,
  infer: Infer,
  logger: Logger,
): UntypedServiceImplementation {
  const { repository } = state;

  function findModel(name: string): RepositoryModel {
    const model = repository.models.get(name);
    if (!model) throw notFound(`unknown model "${name}"`);
    return model;
  }

  /** Runs `answer`; what it throws goes back as the call's status. */
  function unary<Request, Response>(answer: (request: Request) => Response): Unary<Request, Response> {
    return (call, done) => {
      try {
        done(null, answer(decoded(call.request)));
      } catch (error) {
        done(grpcError(error));
      }
    };
  }

  const ServerLive: Unary<object, { live: boolean }> = unary(() => ({ live: true }));
  const ServerReady: Unary<object, { ready: boolean }> = unary(() => ({
    ready: state.loaded && !state.draining,
  }));
  const ModelReady: Unary<ModelRef, { ready: boolean }> = unary((request) => {
    const model = findModel(request.name);
    const version = request.version ? findVersion(model, request.version) : latestReadyVersion(model);
    return { ready: version?.state === 'ready' };
  });
  const ServerMetadata: Unary<object, ServerMetadataResponse> = unary(() => serverMetadata(RUNTIME_NAME));
  const ModelMetadata: Unary<ModelRef, ModelMetadataResponse> = unary((request) => {
    const model = findModel(request.name);
    if (request.version) findVersion(model, request.version);
    // The gRPC message has no `parameters` (max_batch_size, version states): the rest is the same.
    const { name, versions, platform, inputs, outputs } = modelMetadata(model, request.version || undefined);
    return { name, versions, platform, inputs, outputs };
  });

  const ModelInfer: Unary<ModelInferRequest, ModelInferResponse> = (call, done) => {
    let request: ModelInferRequest;
    let body: InferBody;
    try {
      request = decoded(call.request);
      body = inferBody(request);
    } catch (error) {
      // Counted as infer counts what it refuses, under the model when it is one of the repository's.
      const name = (call.request as Partial<ModelInferRequest>).model_name;
      const model = name !== undefined && repository.models.has(name) ? name : '_unknown';
      state.metrics.requestTally('grpc', model, '').add('bad_request');
      done(grpcError(error));
      return;
    }
    const reply = new GrpcInferReply(done, request.raw_input_contents.length > 0, logger);
    infer(
      request.model_name,
      request.model_version || undefined,
      body,
      callHeaders(call.metadata, call.getDeadline(), Date.now()),
      reply,
    );
  };

  return { ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata, ModelInfer };
}

/** The request, or a 400 when its bytes were not a message of its type. */
function decoded<Request>(request: Request): Request {
  const reason = undecodableReason(request);
  if (reason !== undefined) throw badRequest(reason);
  return request;
}

/** A ModelInfer call's way back: the answer raw when the request was raw, typed otherwise. */
class GrpcInferReply implements InferReply<ModelInferResponse> {
  constructor(
    private readonly done: sendUnaryData<ModelInferResponse>,
    private readonly raw: boolean,
    private readonly logger: Logger,
  ) {}

  encode(answer: InferAnswer): ModelInferResponse {
    return grpcAnswer(answer, this.raw);
  }

  answer(response: ModelInferResponse, serverTiming: string): void {
    // The HTTP answer's server-timing header, as trailing metadata.
    const trailer = new Metadata();
    trailer.set('server-timing', serverTiming);
    this.done(null, response, trailer);
  }

  fail(error: unknown): void {
    if (!(error instanceof RuntimeError)) this.logger.error({ err: error }, 'grpc infer failed');
    this.done(grpcError(error));
  }
}
