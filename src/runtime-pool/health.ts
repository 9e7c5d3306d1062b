import { Client } from 'undici';
import type { HealthCheckConfig } from './config.js';
import type { EndpointState } from './endpoint.js';
import type { GrpcChannel } from './grpc-channel.js';
import type { Logger } from '../shared/logger.js';

export type HealthCheckOutcome = 'ok' | 'fail';

/** What one probe saw: 2xx, a 503 (the runtime is draining or not ready yet), or anything else. */
export type ProbeResult = 'ok' | 'not-ready' | 'fail';

export interface HealthCheck {
  /** Runs the first check at once, then one every `interval_ms`; resolves after the first. */
  start(): Promise<void>;
  /** Stops the timer and closes the check connection; a check in progress is abandoned. */
  stop(): Promise<void>;
}

export interface HealthCheckDeps {
  upstream: string;
  logger: Logger;
  onCheck?: (outcome: HealthCheckOutcome) => void;
  /** After each check's result is applied (the pool re-checks whether it has an endpoint left). */
  afterCheck?: () => void;
}

/**
 * Active checks of one endpoint. Thresholds apply in both directions (`unhealthy_after`
 * failures in a row, `healthy_after` successes in a row), except:
 * - The first check decides alone. The endpoint started healthy only so a fresh gateway can
 *   serve before any check has answered; that was an assumption, so the first observation
 *   replaces it instead of having to outvote it.
 * - A 503 (NOT_SERVING over gRPC) drains the endpoint at once: an OIP runtime answers 503 on its ready path after
 *   SIGTERM (or while loading), and waiting for the threshold would keep sending it requests
 *   it will refuse. Requests already in flight finish. The drain lifts after `healthy_after`
 *   successes, like health.
 */
export function createHealthCheck(
  endpoint: EndpointState,
  config: HealthCheckConfig,
  deps: HealthCheckDeps,
): HealthCheck {
  // An http endpoint's checks go on a client of their own, so a check never queues behind
  // inference requests in the endpoint's pool and measures the runtime rather than our own
  // backlog. A grpc endpoint's go on its channel (see GrpcChannel).
  const channel = endpoint.grpc;
  const client =
    channel === undefined
      ? new Client(endpoint.url, { pipelining: 1, connectTimeout: config.timeout_ms })
      : undefined;
  const log = { upstream: deps.upstream, endpoint: endpoint.url };
  let observed = false;
  let successes = 0;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let first: Promise<void> | undefined;
  let stopped = false;

  function apply(result: ProbeResult): void {
    deps.onCheck?.(result === 'ok' ? 'ok' : 'fail');
    const firstObservation = !observed;
    observed = true;
    if (result === 'ok') {
      failures = 0;
      successes += 1;
      if (successes < config.healthy_after && !firstObservation) return;
      if (endpoint.health === 'unhealthy') {
        endpoint.health = 'healthy';
        deps.logger.info({ ...log, successes }, 'upstream endpoint healthy');
      }
      if (endpoint.drainReasons.delete('not-ready')) {
        deps.logger.info(log, 'upstream endpoint ready again, back in rotation');
      }
      return;
    }
    successes = 0;
    failures += 1;
    if (result === 'not-ready' && !endpoint.drainReasons.has('not-ready')) {
      endpoint.drainReasons.add('not-ready');
      deps.logger.warn(
        { ...log, inFlight: endpoint.inFlight },
        'upstream endpoint not ready (503), draining',
      );
    }
    if (endpoint.health === 'healthy' && (failures >= config.unhealthy_after || firstObservation)) {
      endpoint.health = 'unhealthy';
      deps.logger.warn({ ...log, failures, result }, 'upstream endpoint unhealthy');
    }
  }

  async function checkOnce(): Promise<void> {
    const startedAt = Date.now();
    const result = client
      ? await probe(client, config.path, config.timeout_ms)
      : await probeGrpc(channel!, config.timeout_ms);
    if (stopped) return;
    apply(result);
    deps.afterCheck?.();
    // Start-to-start spacing, and never two checks of one endpoint at once.
    timer = setTimeout(() => void checkOnce(), Math.max(0, config.interval_ms - (Date.now() - startedAt)));
    timer.unref();
  }

  return {
    start() {
      first ??= checkOnce();
      return first;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await client?.destroy();
    },
  };
}

/** One GET of the ready path, bounded by `timeoutMs` from connect to the end of the body. */
export async function probe(client: Client, path: string, timeoutMs: number): Promise<ProbeResult> {
  try {
    const response = await client.request({
      method: 'GET',
      path,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    // Read the body to the end so the connection can be reused for the next check.
    await response.body.dump();
    if (response.statusCode >= 200 && response.statusCode < 300) return 'ok';
    return response.statusCode === 503 ? 'not-ready' : 'fail';
  } catch {
    // Refused, reset, timed out or destroyed by stop(): all mean "no good answer".
    return 'fail';
  }
}

/**
 * One grpc.health.v1.Health/Check of the server as a whole (service ""), bounded by `timeoutMs`
 * as a gRPC deadline. The gRPC health checking protocol (grpc/grpc doc/health-checking.md):
 * SERVING is healthy; NOT_SERVING is what the runtime answers where its ready path answers 503
 * (draining, or models still loading), so it drains the endpoint as a 503 does; anything else —
 * no answer, a status other than OK, UNKNOWN — fails.
 */
export async function probeGrpc(channel: GrpcChannel, timeoutMs: number): Promise<ProbeResult> {
  const { response } = await channel.check(Date.now() + timeoutMs);
  if (response?.status === 'SERVING') return 'ok';
  return response?.status === 'NOT_SERVING' ? 'not-ready' : 'fail';
}
