import { isDeepStrictEqual } from 'node:util';
import { PoolAvailability } from './availability.js';
import { createP2cBalancer, type Balancer } from './balancer.js';
import type { UpstreamConfig } from './config.js';
import { createDiscovery, type Discovery } from './discovery.js';
import {
  EndpointState,
  endpointOrigin,
  type Endpoint,
  type EndpointStatus,
  type Outcome,
} from './endpoint.js';
import { createHealthCheck, type HealthCheck } from './health.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import type { UpstreamMetrics } from './metrics.js';
import { createOutlierDetector } from './outlier.js';

export interface UpstreamPoolDeps {
  logger?: Logger;
  metrics?: UpstreamMetrics;
  /** The clock for ejection times and status; Date.now by default. */
  now?: () => number;
  /** P2C on in-flight requests by default. */
  balancer?: Balancer;
  /** How long close() lets in-flight requests finish before it aborts them. */
  closeGraceMs?: number;
}

/** What a leased endpoint's work reports: how the endpoint did, for outlier detection. */
export interface Leased {
  readonly outcome: Outcome;
}

export interface DrainResult {
  found: boolean;
  /** Resolves when the endpoint has no request in flight (at once when not found). */
  done: Promise<void>;
}

export interface UpstreamPool {
  readonly name: string;
  /** The config the pool was built from; see sameConfig. */
  readonly config: UpstreamConfig;
  /**
   * True when `config` equals this pool's config, so a reload may keep the pool (its
   * connections, health and ejection state) instead of building a new one.
   */
  sameConfig(config: UpstreamConfig): boolean;
  /**
   * Chooses an endpoint for one request and counts it in flight: every endpoint returned must
   * get exactly one `release(outcome)`. Skips unhealthy, draining and ejected endpoints, and
   * those in `exclude` (already tried) unless nothing else is left. Undefined when no endpoint
   * is eligible.
   */
  pick(exclude?: ReadonlySet<Endpoint>): Endpoint | undefined;
  /**
   * Runs `use` on one endpoint for one request and owns its lease: picks an endpoint outside
   * `exclude`, counts it in flight, and releases it with the outcome `use` reports (a throw
   * counts as 'error'). Undefined, and `use` is not called, when every eligible endpoint is in
   * `exclude` or none is eligible.
   */
  lease<T extends Leased>(
    exclude: ReadonlySet<Endpoint> | undefined,
    use: (endpoint: Endpoint) => Promise<T>,
  ): Promise<T> | undefined;
  endpoints(): readonly Endpoint[];
  /** Takes the endpoint (by URL or host:port) out of rotation until undrain. */
  drain(url: string): DrainResult;
  /** Lifts an operator drain; false when no such endpoint. Drains for other reasons stay. */
  undrain(url: string): boolean;
  status(): EndpointStatus[];
  /** First discovery and first health round; resolves when both ended. */
  start(): Promise<void>;
  /** Stops timers, lets in-flight requests finish (up to closeGraceMs) and closes connections. */
  close(): Promise<void>;
}

interface Member {
  endpoint: EndpointState;
  health: HealthCheck;
  firstCheck: Promise<void> | undefined;
}

const DEFAULT_CLOSE_GRACE_MS = 30_000;

export function createUpstreamPool(
  name: string,
  config: UpstreamConfig,
  deps: UpstreamPoolDeps = {},
): UpstreamPool {
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? Date.now;
  const balancer = deps.balancer ?? createP2cBalancer();
  const metrics = deps.metrics;
  const members = new Map<string, Member>();
  // The array pick() scans; rebuilt only when membership changes.
  let list: EndpointState[] = [];
  let started = false;
  let closed = false;
  let untrack: (() => void) | undefined;
  const availability = new PoolAvailability({ upstream: name, logger, endpoints: () => list, now });
  /** After anything that can empty or refill the pool (not after close: its endpoints are gone). */
  const checkAvailability = (): void => {
    if (started && !closed) availability.check();
  };

  const outlier = createOutlierDetector(config.outlier, {
    endpoints: () => list,
    now,
    onEject(endpoint, durationMs) {
      metrics?.ejection(name, endpoint.label);
      logger.warn(
        { upstream: name, endpoint: endpoint.url, durationMs, ejections: endpoint.ejections },
        'upstream endpoint ejected after consecutive errors',
      );
      checkAvailability();
    },
    onEjectRefused(endpoint, ejected, max) {
      logger.warn(
        { upstream: name, endpoint: endpoint.url, ejected, max },
        'upstream endpoint failing but not ejected: max_ejected_percent reached',
      );
    },
  });

  const discovery: Discovery = createDiscovery(config, {
    upstream: name,
    logger,
    onResolution: (outcome) => metrics?.dnsResolution(name, outcome),
  });

  function rebuildList(): void {
    list = [...members.values()].map((m) => m.endpoint);
  }

  function startHealth(member: Member): void {
    member.firstCheck = member.health.start();
  }

  function newHealthCheck(endpoint: EndpointState): HealthCheck {
    return createHealthCheck(endpoint, config.health, {
      upstream: name,
      logger,
      onCheck: (outcome) => metrics?.healthCheck(name, outcome),
      afterCheck: checkAvailability,
    });
  }

  function add(origin: string): void {
    const existing = members.get(origin);
    if (existing !== undefined) {
      // Back before its removal finished: keep it, with its connections and counters.
      if (existing.endpoint.drainReasons.delete('removed')) {
        existing.health = newHealthCheck(existing.endpoint);
        if (started) startHealth(existing);
        logger.info({ upstream: name, endpoint: origin }, 'upstream endpoint re-added');
      }
      return;
    }
    const endpoint = new EndpointState(origin, {
      connections: config.connections,
      connectTimeoutMs: config.connect_timeout_ms,
      onOutcome: (e, outcome) => outlier.record(e, outcome),
    });
    const member: Member = { endpoint, health: newHealthCheck(endpoint), firstCheck: undefined };
    members.set(origin, member);
    if (started) startHealth(member);
    logger.info({ upstream: name, endpoint: origin }, 'upstream endpoint added');
  }

  function remove(member: Member): void {
    const { endpoint } = member;
    endpoint.drainReasons.add('removed');
    void member.health.stop();
    logger.info(
      { upstream: name, endpoint: endpoint.url, inFlight: endpoint.inFlight },
      'upstream endpoint removed, draining',
    );
    void endpoint
      .idle()
      .then(async () => {
        // Re-added meanwhile, or the whole pool closed (close() owns the connections then).
        if (closed || !endpoint.drainReasons.has('removed') || members.get(endpoint.url) !== member) return;
        members.delete(endpoint.url);
        rebuildList();
        await endpoint.close();
        logger.info({ upstream: name, endpoint: endpoint.url }, 'upstream endpoint closed');
      })
      .catch((err: unknown) => {
        logger.error(
          { upstream: name, endpoint: endpoint.url, err },
          'closing a removed upstream endpoint failed',
        );
      });
  }

  function reconcile(origins: readonly string[]): void {
    if (closed) return;
    const wanted = new Set(origins);
    for (const origin of wanted) add(origin);
    for (const [origin, member] of members) {
      if (!wanted.has(origin) && !member.endpoint.drainReasons.has('removed')) remove(member);
    }
    rebuildList();
    checkAvailability();
  }

  function find(urlOrHostPort: string): EndpointState | undefined {
    const origin = toOrigin(urlOrHostPort);
    const byUrl = origin === undefined ? undefined : members.get(origin)?.endpoint;
    return byUrl ?? list.find((e) => e.label === urlOrHostPort);
  }

  async function closeConnections(endpoint: EndpointState, graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
      timer.unref();
    });
    const result = await Promise.race([endpoint.close(), graceOver]);
    clearTimeout(timer);
    if (result === 'timeout') await endpoint.destroy();
  }

  function pick(exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const at = now();
    const eligible = list.filter((e) => e.isEligible(at));
    if (eligible.length === 0) {
      if (started && !closed) availability.noneEligible();
    } else availability.someEligible();
    const endpoint = balancer.pick(eligible, exclude);
    endpoint?.acquire();
    return endpoint;
  }

  return {
    name,
    config,

    sameConfig(other) {
      return isDeepStrictEqual(config, other);
    },

    pick,

    lease(exclude, use) {
      const endpoint = pick(exclude);
      if (!endpoint) return undefined;
      if (exclude?.has(endpoint)) {
        endpoint.abandon(); // only endpoints already tried are left: nothing new to try
        return undefined;
      }
      let used: ReturnType<typeof use>;
      try {
        used = use(endpoint);
      } catch (error) {
        endpoint.release('error');
        throw error;
      }
      return used.then(
        (result) => {
          endpoint.release(result.outcome);
          return result;
        },
        (error: unknown) => {
          endpoint.release('error');
          throw error;
        },
      );
    },

    endpoints() {
      return list;
    },

    drain(url) {
      const endpoint = find(url);
      if (endpoint === undefined) return { found: false, done: Promise.resolve() };
      if (!endpoint.drainReasons.has('admin')) {
        endpoint.drainReasons.add('admin');
        logger.info(
          { upstream: name, endpoint: endpoint.url, inFlight: endpoint.inFlight },
          'upstream endpoint drained',
        );
        checkAvailability();
      }
      return { found: true, done: endpoint.idle() };
    },

    undrain(url) {
      const endpoint = find(url);
      if (endpoint === undefined) return false;
      if (endpoint.drainReasons.delete('admin')) {
        logger.info({ upstream: name, endpoint: endpoint.url }, 'upstream endpoint undrained');
        checkAvailability();
      }
      return true;
    },

    status() {
      const at = now();
      return list.map((e) => e.status(at));
    },

    async start() {
      if (started || closed) return;
      started = true;
      untrack = metrics?.track(name, () => list);
      for (const member of members.values()) startHealth(member);
      await discovery.start(reconcile);
      await Promise.all([...members.values()].map((m) => m.firstCheck));
    },

    async close() {
      if (closed) return;
      closed = true;
      discovery.stop();
      untrack?.();
      const graceMs = deps.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
      await Promise.all(
        [...members.values()].map(async (m) => {
          await m.health.stop();
          await closeConnections(m.endpoint, graceMs);
        }),
      );
    },
  };
}

function toOrigin(url: string): string | undefined {
  try {
    return endpointOrigin(url);
  } catch {
    return undefined;
  }
}
