import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { RuntimeError } from '../errors.js';

/**
 * The gRPC status of a failed call, from the status the runtime answers over HTTP
 * (gRPC's own status codes doc, "Status codes and their use in gRPC"): bad input is
 * INVALID_ARGUMENT, an unknown model or version NOT_FOUND, a full queue RESOURCE_EXHAUSTED (try
 * later or elsewhere), a version not ready or a draining server UNAVAILABLE, a deadline passed
 * in the queue DEADLINE_EXCEEDED. The message is the same as over HTTP.
 */
export function grpcError(error: unknown): Partial<ServiceError> & { code: Status } {
  const message = error instanceof Error ? error.message : String(error);
  return { code: grpcCode(error), details: message, message, metadata: new Metadata() };
}

export function grpcCode(error: unknown): Status {
  if (!(error instanceof RuntimeError)) return Status.INTERNAL;
  switch (error.status) {
    case 400:
      return Status.INVALID_ARGUMENT;
    case 404:
      return Status.NOT_FOUND;
    case 413:
      return Status.RESOURCE_EXHAUSTED;
    case 503:
      return error.queueFull ? Status.RESOURCE_EXHAUSTED : Status.UNAVAILABLE;
    case 504:
      return Status.DEADLINE_EXCEEDED;
    default:
      return Status.INTERNAL;
  }
}
