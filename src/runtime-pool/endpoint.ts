import { Pool } from 'undici';
import type { UpstreamProtocol } from './config.js';
import { GrpcChannel } from './grpc-channel.js';

export type HealthState = 'healthy' | 'unhealthy';

/** 'error' is a connection error, a timeout or a 5xx; anything else the endpoint answered is 'ok'. */
export type Outcome = 'ok' | 'error';

/**
 * Why an endpoint takes no new requests. Several can hold at once (an operator drain while the
 * runtime also reports not-ready); it returns to rotation only when none is left.
 * - admin: an operator asked (admin API); only `undrain` lifts it.
 * - not-ready: its ready path answered 503, the runtime's way of saying it got SIGTERM or is
 *   still loading; health checks lift it after `healthy_after` successes.
 * - removed: discovery no longer lists it; it is closed once idle.
 */
export type DrainReason = 'admin' | 'not-ready' | 'removed';

/** One endpoint's state for the admin API: plain JSON, times in epoch milliseconds of the pool's clock. */
export interface EndpointStatus {
  url: string;
  health: HealthState;
  draining: boolean;
  drainReasons: DrainReason[];
  ejected: boolean;
  ejectedUntil: number | null;
  inFlight: number;
  ejections: number;
  consecutiveErrors: number;
  requests: number;
  errors: number;
}

/** What the gateway holds between `pool.pick()` and `release()`. */
export interface Endpoint {
  /** The origin, e.g. "http://10.0.0.5:8000", "http://[fd00::5]:8000" or "grpc://10.0.0.5:8001". */
  readonly url: string;
  /** host:port, the metrics label. */
  readonly label: string;
  /** How it is called: REST through `dispatcher`, or gRPC through `grpc`. */
  readonly protocol: UpstreamProtocol;
  /** An http(s) endpoint's connections: send the request through this; its origin is already set. */
  readonly dispatcher: Pool | undefined;
  /** A grpc endpoint's channel. */
  readonly grpc: GrpcChannel | undefined;
  readonly inFlight: number;
  /** Counts a request in flight that did not come from `pick()` (e.g. a call to this very endpoint). */
  acquire(): void;
  /** Ends one request that `pick()` (or `acquire()`) started. Call it exactly once per request. */
  release(outcome: Outcome): void;
  /** Gives back a pick that sent nothing (e.g. an endpoint already tried): no outcome is recorded. */
  abandon(): void;
}

export interface EndpointOptions {
  connections: number;
  connectTimeoutMs: number;
  /** Told of every released request; the pool feeds outlier detection from it. */
  onOutcome?: (endpoint: EndpointState, outcome: Outcome) => void;
}

/**
 * An endpoint and everything the pool knows about it. The gateway sees it through `Endpoint`;
 * health.ts, outlier.ts and pool.ts write the rest.
 */
export class EndpointState implements Endpoint {
  readonly url: string;
  readonly label: string;
  readonly protocol: UpstreamProtocol;
  readonly dispatcher: Pool | undefined;
  readonly grpc: GrpcChannel | undefined;

  inFlight = 0;
  requests = 0;
  errors = 0;
  // A fresh gateway serves at once; the first check runs immediately and corrects this.
  health: HealthState = 'healthy';
  readonly drainReasons = new Set<DrainReason>();

  /** Outlier ejection, written by outlier.ts. */
  consecutiveErrors = 0;
  ejectedUntil = 0;
  ejections = 0;
  /** Ejections since the endpoint last stayed in rotation long enough; the backoff exponent. */
  ejectionStreak = 0;

  readonly #onOutcome: ((endpoint: EndpointState, outcome: Outcome) => void) | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(url: string, options: EndpointOptions) {
    const parsed = new URL(url);
    this.url = endpointOrigin(url);
    // URL drops a default port from `host`; the label keeps it so every label reads host:port.
    this.label = `${parsed.hostname}:${parsed.port || defaultPort(parsed.protocol)}`;
    this.#onOutcome = options.onOutcome;
    this.protocol = parsed.protocol === 'grpc:' ? 'grpc' : 'http';
    if (this.protocol === 'grpc') {
      this.dispatcher = undefined;
      this.grpc = new GrpcChannel(this.label, { maxReconnectBackoffMs: RECONNECT_BACKOFF_MAX_MS });
      return;
    }
    this.grpc = undefined;
    this.dispatcher = new Pool(this.url, {
      connections: options.connections,
      // One request per connection at a time: a slow inference must not hold up the next one.
      pipelining: 1,
      connectTimeout: options.connectTimeoutMs,
    });
  }

  /** Closes its connections once the requests in flight finished. */
  async close(): Promise<void> {
    if (this.grpc) {
      await this.idle();
      this.grpc.close();
    }
    if (this.dispatcher && !this.dispatcher.destroyed) await this.dispatcher.close();
  }

  /** Ends its connections at once, with whatever is in flight. */
  async destroy(): Promise<void> {
    this.grpc?.destroy();
    if (this.dispatcher && !this.dispatcher.destroyed) await this.dispatcher.destroy();
  }

  get draining(): boolean {
    return this.drainReasons.size > 0;
  }

  isEjected(now: number): boolean {
    return this.ejectedUntil > now;
  }

  /** May `pick()` choose it for a new request? */
  isEligible(now: number): boolean {
    return this.health === 'healthy' && !this.draining && !this.isEjected(now);
  }

  acquire(): void {
    this.inFlight += 1;
  }

  release(outcome: Outcome): void {
    // A double release is a caller bug; flooring keeps the balancer sane instead of going negative.
    if (this.inFlight > 0) this.inFlight -= 1;
    this.requests += 1;
    if (outcome === 'error') this.errors += 1;
    this.#onOutcome?.(this, outcome);
    if (this.inFlight === 0) this.#wakeIdleWaiters();
  }

  abandon(): void {
    if (this.inFlight > 0) this.inFlight -= 1;
    if (this.inFlight === 0) this.#wakeIdleWaiters();
  }

  /** Resolves when no request is in flight (at once if none is). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  status(now: number): EndpointStatus {
    const ejected = this.isEjected(now);
    return {
      url: this.url,
      health: this.health,
      draining: this.draining,
      drainReasons: [...this.drainReasons],
      ejected,
      ejectedUntil: ejected ? this.ejectedUntil : null,
      inFlight: this.inFlight,
      ejections: this.ejections,
      consecutiveErrors: this.consecutiveErrors,
      requests: this.requests,
      errors: this.errors,
    };
  }

  #wakeIdleWaiters(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Longest wait between grpc-js's attempts to reconnect a channel (its default is 120 s): health
 * checks share the channel, so this bounds how long a runtime back on its address waits to be
 * seen, as the health interval does for an http endpoint.
 */
const RECONNECT_BACKOFF_MAX_MS = 2000;

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/**
 * The endpoint's origin, the pool's key for it: scheme, host and port. WHATWG URL gives
 * `grpc:` (not a special scheme) the origin "null", so that one is put together by hand.
 */
export function endpointOrigin(url: string): string {
  const parsed = new URL(url);
  return parsed.protocol === 'grpc:' ? `grpc://${parsed.host}` : parsed.origin;
}
