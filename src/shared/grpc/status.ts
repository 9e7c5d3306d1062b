import { fileURLToPath } from 'node:url';
import { loadSync, type MessageTypeDefinition } from '@grpc/proto-loader';
import { LOAD_OPTIONS } from './inference.js';

/**
 * Google's richer gRPC error model (status.proto beside this file says which documents it
 * follows): a google.rpc.Status in the `grpc-status-details-bin` trailer, carrying a
 * google.rpc.RetryInfo. Encoded by the gateway's gRPC front door, decoded by whoever reads it back
 * (the tests, any client with rich-error support).
 */
export const STATUS_PROTO = fileURLToPath(new URL('./status.proto', import.meta.url));

/** The trailer gRPC's rich error model is read from (the bytes of a google.rpc.Status). */
export const STATUS_DETAILS_TRAILER = 'grpc-status-details-bin';

/** The Any type URL of a RetryInfo (the form Any's own documentation gives). */
export const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

interface Any {
  type_url: string;
  value: Buffer;
}

interface Duration {
  seconds: number;
  nanos: number;
}

export interface RpcStatus {
  code: number;
  message: string;
  details: Any[];
}

interface RetryInfo {
  retry_delay: Duration | null;
}

type Message<T> = MessageTypeDefinition<T, T>;

let messages: { status: Message<RpcStatus>; retryInfo: Message<RetryInfo> } | undefined;

function loaded(): NonNullable<typeof messages> {
  if (!messages) {
    const definitions = loadSync(STATUS_PROTO, LOAD_OPTIONS);
    messages = {
      status: definitions['google.rpc.Status'] as Message<RpcStatus>,
      retryInfo: definitions['google.rpc.RetryInfo'] as Message<RetryInfo>,
    };
  }
  return messages;
}

/**
 * A google.rpc.Status of `code` and `message` (the call's own status and message, as the model
 * asks), with a RetryInfo of `retryDelayMs` when one is given.
 */
export function encodeStatusDetails(code: number, message: string, retryDelayMs?: number): Buffer {
  const { status, retryInfo } = loaded();
  const details: Any[] = [];
  if (retryDelayMs !== undefined) {
    const delay: Duration = {
      seconds: Math.floor(retryDelayMs / 1000),
      nanos: Math.round((retryDelayMs % 1000) * 1e6),
    };
    details.push({ type_url: RETRY_INFO_TYPE_URL, value: retryInfo.serialize({ retry_delay: delay }) });
  }
  return status.serialize({ code, message, details });
}

/** A Status read back, with its RetryInfo's delay in milliseconds when it carries one. */
export function decodeStatusDetails(bytes: Buffer): { status: RpcStatus; retryDelayMs?: number } {
  const { status: statusType, retryInfo } = loaded();
  const status = statusType.deserialize(bytes);
  const retry = status.details.find((any) => any.type_url === RETRY_INFO_TYPE_URL);
  const delay = retry && retryInfo.deserialize(retry.value).retry_delay;
  return { status, ...(delay ? { retryDelayMs: delay.seconds * 1000 + delay.nanos / 1e6 } : {}) };
}
