import type { IncomingHttpHeaders } from 'node:http';
import type { Deadline, Metadata } from '@grpc/grpc-js';

/**
 * What the gateway reads from HTTP headers, from a gRPC call's metadata (every text entry: the
 * API key, the user key for routing, trace context, the request id), and the time left before
 * the call's deadline as x-request-timeout-ms, the caller's budget. `now` is Date.now(): grpc-js
 * keeps deadlines on the wall clock.
 */
export function callHeaders(metadata: Metadata, deadline: Deadline, now: number): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === 'string' && !key.startsWith(':') && !key.startsWith('grpc-')) headers[key] = value;
  }
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(at)) headers['x-request-timeout-ms'] = String(Math.max(0, at - now));
  return headers;
}
