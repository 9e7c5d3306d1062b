import type { IncomingHttpHeaders } from 'node:http';
import { Metadata, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { GatewayError, gatewayError } from '../errors.js';
import { requestIdFrom } from '../http/context.js';
import type { ProtocolAnswers } from '../gateway/protocol-answers.js';
import type { ModelMetadataResponse, ModelRef, ServerMetadataResponse } from '../shared/grpc/inference.js';
import { undecodableReason } from '../shared/grpc/tolerant-decoding.js';
import type { Logger } from '../shared/logger.js';
import { callHeaders } from './call-headers.js';
import { gatewayFailure, internalFailure } from './status.js';

type Unary<Request, Response> = (
  call: ServerUnaryCall<Request, Response>,
  done: sendUnaryData<Response>,
) => void;

export interface ProtocolCalls {
  ServerLive: Unary<object, { live: boolean }>;
  ServerReady: Unary<object, { ready: boolean }>;
  ServerMetadata: Unary<object, ServerMetadataResponse>;
  ModelReady: Unary<ModelRef, { ready: boolean }>;
  ModelMetadata: Unary<ModelRef, ModelMetadataResponse>;
}

/**
 * inference.GRPCInferenceService's calls around inference on the gateway, answered from the same
 * functions as their REST routes (src/gateway/protocol-answers.ts): ServerLive, ServerReady and
 * ServerMetadata without a key, as `GET /v2/health/live`, `/v2/health/ready` and `GET /v2`;
 * ModelReady and ModelMetadata with a key of the `infer` scope from the `authorization: Bearer` or
 * `x-api-key` metadata, as `GET /v2/models/{m}[/versions/{v}]/ready` and `[...]` (an empty
 * `version`, "the server picks" in inference_grpc.md, is the model's own route). Not ready is
 * `ready: false` with OK, as the runtime's gRPC answers, where REST says 503. A refusal is the REST
 * route's error as a gRPC status (src/grpc/status.ts), with its code and the request id in the
 * trailing metadata.
 */
export function protocolCalls(answers: ProtocolAnswers, logger: Logger): ProtocolCalls {
  /** Runs `answer` with the call's metadata as headers; a GatewayError it returns is the call's failure. */
  function keyed<Request extends ModelRef, Response, Answer>(
    answer: (headers: IncomingHttpHeaders, model: string, version?: string) => Promise<Answer | GatewayError>,
    response: (answer: Answer) => Response,
  ): Unary<Request, Response> {
    return (call, done) => {
      const headers = callHeaders(call.metadata, call.getDeadline(), Date.now());
      const requestId = requestIdFrom(headers);
      const undecodable = undecodableReason(call.request);
      if (undecodable !== undefined) {
        done(gatewayFailure(gatewayError('INPUT_INVALID', undecodable), requestId));
        return;
      }
      const { name, version } = call.request;
      answer(headers, name, version === '' ? undefined : version).then(
        (answered) => {
          if (answered instanceof GatewayError) return done(gatewayFailure(answered, requestId));
          const trailer = new Metadata();
          trailer.set('x-request-id', requestId);
          done(null, response(answered), trailer);
        },
        (error: unknown) => {
          logger.error({ err: error, request_id: requestId }, 'grpc call failed');
          done(internalFailure(requestId));
        },
      );
    };
  }

  return {
    ServerLive: (_call, done) => done(null, { live: true }),
    ServerReady: (_call, done) => done(null, { ready: answers.serverReady() }),
    ServerMetadata: (_call, done) => done(null, answers.serverMetadata()),
    ModelReady: keyed(answers.modelReady, ({ ready }) => ({ ready })),
    // The message has no `parameters` (the variants, the contract's features): the rest maps as is.
    ModelMetadata: keyed(answers.modelMetadata, ({ name, versions, platform, inputs, outputs }) => ({
      name,
      versions,
      platform,
      inputs: inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
      outputs: outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    })),
  };
}
