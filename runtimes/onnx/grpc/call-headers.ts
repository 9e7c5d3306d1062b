import type { IncomingHttpHeaders } from 'node:http';
import type { Deadline, Metadata } from '@grpc/grpc-js';

/** Metadata keys `infer` reads, as it reads them from HTTP headers. */
const READ = ['traceparent', 'tracestate', 'x-request-timeout-ms'] as const;

/**
 * What `infer` reads from HTTP headers, from a gRPC call: W3C trace context from the metadata,
 * and the time left before the call's deadline as `x-request-timeout-ms`, so the deadline
 * becomes the queue's (a call still queued when it passes never runs). Without a gRPC deadline,
 * an `x-request-timeout-ms` in the metadata counts, as over HTTP. `now` is Date.now(): grpc-js
 * keeps deadlines on the wall clock.
 */
export function callHeaders(metadata: Metadata, deadline: Deadline, now: number): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const key of READ) {
    const value = metadata.get(key)[0];
    if (typeof value === 'string') headers[key] = value;
  }
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(at)) headers['x-request-timeout-ms'] = String(Math.max(0, at - now));
  return headers;
}
