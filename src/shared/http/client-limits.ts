import type { Server, ServerOptions } from 'node:http';

/**
 * How long a client may take to send a request, and how many may be connected at once: without
 * them a client that sends a byte now and then (slowloris) holds a connection, its socket and
 * parser for as long as it likes, and enough such clients hold all of them.
 */
export interface ClientLimits {
  /**
   * The request line and headers must all arrive within this, counted from the connection's
   * start or, on a kept-alive connection, from the request's first byte: nginx's
   * client_header_timeout, Node's server.headersTimeout. 408 and close.
   */
  headerTimeoutMs: number;
  /**
   * The longest pause between two reads of a request body, not a bound on the whole body:
   * nginx's client_body_timeout. 408 and close.
   */
  bodyTimeoutMs: number;
  /**
   * The whole request, head and body, must arrive within this (Node's server.requestTimeout): it
   * bounds a body that trickles in just faster than `bodyTimeoutMs`. 408 and close. The answer's
   * time does not count.
   */
  requestTimeoutMs: number;
  /** Connections beyond this many are closed as they arrive (Node's server.maxConnections); 0: no cap. */
  maxConnections: number;
}

/**
 * nginx waits 60 s for the head and between reads of the body; a real caller of a model gateway
 * sends its head in one packet right after connecting and its body (JSON) without pausing, so
 * 10 s is far beyond a healthy client, even over a lossy link that retransmits several times
 * (TCP's first retransmission comes after 200 ms to 1 s). 30 s for a whole request is 35 KB/s for
 * a 1 MiB body, slower than any link a model's caller runs on, and 1.1 MB/s for one at the 32 MiB
 * body limit, which only an image model's batch reaches, from callers in the same data centre
 * (Node's own default is 300 s; nginx has no such bound). 10 000 connections is more than a
 * fleet of pooled callers keeps open to one replica (a hundred callers with 64 each); each holds
 * about 11 KiB of the process's memory while its head is arriving (measured with 4 000), so the
 * cap bounds them at about 110 MiB, and a client that holds them without sending is cut off by
 * the timeouts above.
 */
export const CLIENT_LIMITS_DEFAULTS: Readonly<ClientLimits> = {
  headerTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 10_000,
};

/**
 * Node's server options for the head's and the whole request's timeouts. The head is part of the
 * request, so its timeout is at most the request's (Node refuses a larger one). Node checks both
 * every `connectionsCheckingInterval` (30 s by default), so a timeout fires up to that much late:
 * a tenth of the header timeout (at most a second) keeps it within 10% of its value.
 */
export function requestTimeoutOptions(
  limits: Pick<ClientLimits, 'headerTimeoutMs' | 'requestTimeoutMs'>,
): Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'> {
  const headersTimeout = Math.min(limits.headerTimeoutMs, limits.requestTimeoutMs);
  const connectionsCheckingInterval = checkIntervalFor(headersTimeout);
  return { headersTimeout, requestTimeout: limits.requestTimeoutMs, connectionsCheckingInterval };
}

/** How often a timeout is checked for: a tenth of it, at most a second (and at least 10 ms). */
export function checkIntervalFor(timeoutMs: number): number {
  return Math.min(1_000, Math.max(10, Math.ceil(timeoutMs / 10)));
}

/**
 * Caps the server's open connections; a new one over the cap is closed as it arrives, without an
 * answer. Dropped rather than answered 503: answering needs the request's head first, which
 * means holding the very connection the cap exists to refuse for up to the header timeout (a
 * response before the request is not one a client can match to anything); dropping costs an
 * accept and a close, and a connection closed before its request was sent is one every client
 * and load balancer may retry elsewhere. `onDropped` counts them (Node's `drop` event).
 */
export function capConnections(server: Server, maxConnections: number, onDropped: () => void): void {
  if (maxConnections === 0) return;
  server.maxConnections = maxConnections;
  server.on('drop', onDropped);
}
