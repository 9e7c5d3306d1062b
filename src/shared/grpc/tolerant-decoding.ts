import type { ServiceDefinition } from '@grpc/proto-loader';

/** What a request that protobuf could not decode becomes, so the service answers it (see below). */
interface Undecodable {
  [UNDECODABLE]: unknown;
}

const UNDECODABLE = Symbol('undecodable');

/**
 * The service with request decoding that does not throw: grpc-js answers a message its decoder
 * throws on with INTERNAL, which tells a client the server failed. The bytes were the client's
 * mistake, so the implementation gets a request that undecodableReason recognises and answers
 * it INVALID_ARGUMENT instead (counted, logged and recorded as the server counts its refusals).
 */
export function tolerantDecoding(service: ServiceDefinition): ServiceDefinition {
  const tolerant: ServiceDefinition = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    tolerant[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (error) {
          return { [UNDECODABLE]: error } satisfies Undecodable;
        }
      },
    };
  }
  return tolerant;
}

/** Why a request's bytes were not a message of its type; undefined when they were one. */
export function undecodableReason(request: unknown): string | undefined {
  if (typeof request !== 'object' || request === null || !(UNDECODABLE in request)) return undefined;
  const cause = (request as Undecodable)[UNDECODABLE];
  return `the request is not a valid protobuf message of its type: ${cause instanceof Error ? cause.message : String(cause)}`;
}
