import type { IncomingHttpHeaders } from 'node:http';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { binaryOf, HEADER_LENGTH } from '../shared/binary-tensors.js';
import {
  ConversionError,
  modelInferRequest,
  restAnswerText,
  type RestInferRequest,
} from '../shared/grpc/rest-messages.js';
import type { ModelInferRequest } from '../shared/grpc/inference.js';
import type { GrpcChannel } from '../runtime-pool/grpc-channel.js';
import type { InferRequest } from '../shared/oip.js';
import type { ExchangeResult } from './exchange.js';

/** What a call sends, as the pipeline built it for REST (see AttemptRequest). */
export interface GrpcCallBody {
  /** The parsed request, when the call has it (a shadow's merged copies have only the text). */
  inference: InferRequest | undefined;
  /** The JSON, or the JSON and the binary inputs after it (`headerLength` is the JSON's). */
  body: string | { bytes: Buffer; headerLength: number };
}

/**
 * exchange()'s gRPC counterpart: one inference.GRPCInferenceService/ModelInfer call to a grpc://
 * endpoint, with the same result, so retries, breakers, outlier ejection and the answer's checks
 * (answer.ts) work as they do over REST. The request goes as a ModelInferRequest with raw
 * contents; a 200's text is the JSON the runtime's REST endpoint would have answered; a failure's
 * status is the HTTP status that endpoint would have answered (httpStatusOf), its text the
 * protocol's `{"error": …}`. `timeoutMs` is the call's gRPC deadline. Headers the HTTP exchange
 * would send (request id, remaining budget, trace context) go as metadata, where the runtime's
 * gRPC server reads them. Never throws.
 */
export function grpcExchange(
  channel: GrpcChannel,
  model: string,
  version: string,
  call: GrpcCallBody,
  timeoutMs: number,
  headers: IncomingHttpHeaders,
): Promise<ExchangeResult> {
  let message: ModelInferRequest;
  try {
    message = messageOf(model, version, call);
  } catch (error) {
    // What the REST endpoint would refuse as the request's (a parameter value protobuf has no
    // field for, values that do not fit their datatype): the same answer, without a call.
    if (error instanceof ConversionError) return Promise.resolve(refusal(400, error.message));
    return Promise.resolve(noAnswer(error));
  }
  return new Promise<ExchangeResult>((resolve) => {
    channel.infer(message, metadataOf(headers), Date.now() + timeoutMs, ({ response, error, trailers }) => {
      const serverTiming = trailers?.get('server-timing')[0];
      const timing = typeof serverTiming === 'string' ? serverTiming : undefined;
      if (response !== undefined) {
        try {
          resolve({ status: 200, text: restAnswerText(response), serverTiming: timing, timedOut: false });
        } catch (problem) {
          resolve(problem instanceof ConversionError ? refusal(400, problem.message) : noAnswer(problem));
        }
        return;
      }
      resolve(failed(error!, trailers));
    });
  });
}

function messageOf(model: string, version: string, call: GrpcCallBody): ModelInferRequest {
  const { inference, body } = call;
  if (inference !== undefined) {
    return modelInferRequest(model, version, inference as RestInferRequest, (index) =>
      binaryOf(inference.inputs[index]),
    );
  }
  // Only the text: binary inputs' bytes follow the JSON in the inputs' order, each
  // `binary_data_size` long (the binary tensor extension; the gateway checked the sizes).
  const json = typeof body === 'string' ? body : body.bytes.toString('utf8', 0, body.headerLength);
  const request = JSON.parse(json) as RestInferRequest;
  let offset = typeof body === 'string' ? 0 : body.headerLength;
  return modelInferRequest(model, version, request, (index) => {
    const size = request.inputs[index]?.parameters?.binary_data_size;
    if (typeof body === 'string' || typeof size !== 'number') return undefined;
    const bytes = body.bytes.subarray(offset, offset + size);
    offset += size;
    return bytes;
  });
}

/** Headers that describe the HTTP body stay behind; the rest ride as metadata. */
const BODY_HEADERS = new Set(['content-type', 'content-length', HEADER_LENGTH]);

function metadataOf(headers: IncomingHttpHeaders): Metadata {
  const metadata = new Metadata();
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === 'string' && !BODY_HEADERS.has(name)) metadata.set(name, value);
  }
  return metadata;
}

/**
 * The HTTP status the runtime's REST endpoint answers where its gRPC endpoint answers `code`, as
 * the runtime maps one to the other (runtimes/onnx/grpc/status.ts) and, for codes the runtime
 * does not send, google.rpc.Code's HTTP mapping. Two are not statuses: DEADLINE_EXCEEDED is the
 * exchange's timeout, and a status grpc-js made up itself (no server answered: refused, reset,
 * dropped) is a connection error, status 0 — `answered` tells them apart.
 *
 * - INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE: 400, the request's fault.
 * - NOT_FOUND 404: this endpoint lacks the model or version; another may have it.
 * - RESOURCE_EXHAUSTED: 413 when the server refused the message's size (grpc's own wording),
 *   else 429: the runtime's queue is full (its REST endpoint says 503; both mean "not now").
 * - UNAVAILABLE 503 from the server: not ready or draining.
 * - UNIMPLEMENTED 501, UNAUTHENTICATED 401, PERMISSION_DENIED 403, ABORTED and ALREADY_EXISTS
 *   409, CANCELLED 499; INTERNAL, UNKNOWN, DATA_LOSS 500.
 */
export function httpStatusOf(
  code: Status,
  details: string,
  answered: boolean,
): { status: number; timedOut: boolean } {
  if (code === Status.DEADLINE_EXCEEDED) return { status: 0, timedOut: true };
  if (!answered) return { status: 0, timedOut: false };
  switch (code) {
    case Status.OK:
      return { status: 200, timedOut: false };
    case Status.INVALID_ARGUMENT:
    case Status.FAILED_PRECONDITION:
    case Status.OUT_OF_RANGE:
      return { status: 400, timedOut: false };
    case Status.NOT_FOUND:
      return { status: 404, timedOut: false };
    case Status.RESOURCE_EXHAUSTED:
      return { status: details.startsWith('Received message larger than max') ? 413 : 429, timedOut: false };
    case Status.UNAVAILABLE:
      return { status: 503, timedOut: false };
    case Status.UNIMPLEMENTED:
      return { status: 501, timedOut: false };
    case Status.UNAUTHENTICATED:
      return { status: 401, timedOut: false };
    case Status.PERMISSION_DENIED:
      return { status: 403, timedOut: false };
    case Status.ABORTED:
    case Status.ALREADY_EXISTS:
      return { status: 409, timedOut: false };
    case Status.CANCELLED:
      return { status: 499, timedOut: false };
    default:
      return { status: 500, timedOut: false };
  }
}

/**
 * Whether a server sent the status. Every gRPC response, trailers-only ones included, carries
 * Content-Type (grpc/grpc doc/PROTOCOL-HTTP2.md, "Responses"), and grpc-js gives a response's
 * headers with its status; a status grpc-js makes up when no response came has no metadata.
 */
export function answeredByServer(trailers: Metadata | undefined): boolean {
  return (trailers?.get('content-type').length ?? 0) > 0;
}

function failed(error: ServiceError, trailers: Metadata | undefined): ExchangeResult {
  const { status, timedOut } = httpStatusOf(error.code, error.details, answeredByServer(trailers));
  if (status === 0) {
    return { status, text: '', serverTiming: undefined, timedOut, error: new Error(error.details) };
  }
  return refusal(status, error.details);
}

/** An answer with the protocol's error body, as the REST endpoint writes it. */
function refusal(status: number, message: string): ExchangeResult {
  return { status, text: JSON.stringify({ error: message }), serverTiming: undefined, timedOut: false };
}

function noAnswer(error: unknown): ExchangeResult {
  return {
    status: 0,
    text: '',
    serverTiming: undefined,
    timedOut: false,
    error: error instanceof Error ? error : new Error(String(error)),
  };
}
