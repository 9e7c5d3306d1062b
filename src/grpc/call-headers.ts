import type { IncomingHttpHeaders } from 'node:http';
import type { Deadline, Metadata } from '@grpc/grpc-js';
import { HEADER_LENGTH } from '../shared/binary-tensors.js';

/** Headers that describe an HTTP body, which a message is not: never taken from metadata. */
const BODY_HEADERS = new Set([HEADER_LENGTH, 'content-encoding', 'content-length', 'content-type']);

/**
 * What the gateway reads from HTTP headers, from a gRPC call's metadata (every text entry but those
 * about an HTTP body: the API key, the user key for routing, trace context, the request id), and
 * the time left before the call's deadline as x-request-timeout-ms, the caller's budget. `now` is
 * Date.now(): grpc-js keeps deadlines on the wall clock.
 */
export function callHeaders(metadata: Metadata, deadline: Deadline, now: number): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value !== 'string' || key.startsWith(':') || key.startsWith('grpc-')) continue;
    if (!BODY_HEADERS.has(key)) headers[key] = value;
  }
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(at)) headers['x-request-timeout-ms'] = String(Math.max(0, at - now));
  return headers;
}
