import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_CODE_HEADER, type GatewayError } from '../errors.js';
import { encodeStatusDetails, STATUS_DETAILS_TRAILER } from '../shared/grpc/status.js';

/** A failed call as grpc-js sends it: status, message, trailing metadata. */
export type GrpcFailure = Partial<ServiceError> & { code: Status };

/**
 * The gateway's HTTP statuses as gRPC codes (gRPC's status code doc and its HTTP mapping), with
 * the gateway's own choices where the issue asks for them: a spent budget is DEADLINE_EXCEEDED,
 * a rate limit RESOURCE_EXHAUSTED (when to retry in the trailers), a failed runtime UNAVAILABLE.
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

/** The codes a client may retry after a while; their failures say how long when the gateway knows. */
const RETRYABLE = new Set<Status>([Status.RESOURCE_EXHAUSTED, Status.UNAVAILABLE]);

/**
 * A refusal the gateway would answer over HTTP with `httpStatus`, `message` and `headers`, as a
 * gRPC failure: the status above, the message as its details, every header as trailing metadata
 * (`x-switchyard-error-code`, `x-request-id`, `retry-after`, `ratelimit-*`). A retryable failure
 * whose answer says when to come back (`retry-after`, seconds: the rate limiter's wait, rounded
 * up, or the shed's second) also carries Google's rich error model in `grpc-status-details-bin`:
 * a google.rpc.Status of the same code and message with a google.rpc.RetryInfo of that delay.
 */
export function grpcFailure(
  httpStatus: number,
  message: string,
  headers: Record<string, string>,
): GrpcFailure {
  const code = grpcStatus(httpStatus);
  const metadata = new Metadata();
  for (const [name, value] of Object.entries(headers)) metadata.set(name.toLowerCase(), value);
  const retryAfterS = Number(headers['retry-after']);
  if (RETRYABLE.has(code) && headers['retry-after'] !== undefined && Number.isFinite(retryAfterS)) {
    metadata.set(STATUS_DETAILS_TRAILER, encodeStatusDetails(code, message, retryAfterS * 1000));
  }
  return { code, details: message, metadata };
}

/** A GatewayError thrown on a call's way (not an answer of the pipeline) as its failure. */
export function gatewayFailure(error: GatewayError, requestId: string): GrpcFailure {
  return grpcFailure(error.status, error.message, {
    ...error.extra.headers,
    [ERROR_CODE_HEADER]: error.code,
    'x-request-id': requestId,
  });
}

/** What failed in the gateway itself: INTERNAL, never its message or stack. */
export function internalFailure(requestId: string): GrpcFailure {
  const metadata = new Metadata();
  metadata.set('x-request-id', requestId);
  return { code: Status.INTERNAL, details: 'internal error', metadata };
}
