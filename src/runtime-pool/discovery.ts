import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DnsDiscoveryConfig, UpstreamConfig, UpstreamProtocol } from './config.js';
import { endpointOrigin } from './endpoint.js';
import type { Logger } from '../shared/logger.js';

/** Receives the full current set of endpoint origins whenever discovery learns it. */
export type OriginsListener = (origins: readonly string[]) => void;

/** Where a pool's endpoints come from. */
export interface Discovery {
  /**
   * Reports the first set (synchronously for a static list) and resolves once the first
   * lookup ended, whatever its result; then keeps reporting changes until stop().
   */
  start(onChange: OriginsListener): Promise<void>;
  stop(): void;
}

/** ok: records found; empty: the name has no A/AAAA records; fail: the lookup itself failed. */
export type DnsOutcome = 'ok' | 'empty' | 'fail';

export interface DiscoveryDeps {
  upstream: string;
  logger: Logger;
  onResolution?: (outcome: DnsOutcome) => void;
}

/** The static list when `endpoints` is set, DNS when `dns` is; the schema asks for exactly one. */
export function createDiscovery(config: UpstreamConfig, deps: DiscoveryDeps): Discovery {
  if (config.endpoints !== undefined && config.dns !== undefined) {
    throw new Error(`upstream ${deps.upstream}: set either endpoints or dns, not both`);
  }
  if (config.endpoints !== undefined) return createStaticDiscovery(config.endpoints);
  if (config.dns !== undefined) return createDnsDiscovery(config.dns, deps);
  throw new Error(`upstream ${deps.upstream}: needs endpoints or dns`);
}

export function createStaticDiscovery(urls: readonly string[]): Discovery {
  const origins = uniqueSorted(urls.map(endpointOrigin));
  return {
    start(onChange) {
      onChange(origins);
      return Promise.resolve();
    },
    stop() {},
  };
}

/**
 * Every A and AAAA record of `name` is an endpoint `<protocol>://<address>:<port>` (a Kubernetes
 * headless Service lists one record per ready pod), re-resolved every `interval_ms`.
 *
 * Only a successful, non-empty answer replaces the set. A failed lookup, or an answer with no
 * records, keeps the last known endpoints: a DNS hiccup must not empty a working pool, and
 * endpoints that really went away fail their health checks and leave rotation anyway.
 */
export function createDnsDiscovery(config: DnsDiscoveryConfig, deps: DiscoveryDeps): Discovery {
  // Bounded tries so one lookup ends well within the interval and lookups never pile up.
  const resolver = new Resolver({ timeout: clamp(config.interval_ms / 2, 100, 2000), tries: 2 });
  if (config.servers !== undefined) resolver.setServers(config.servers);
  const log = { upstream: deps.upstream, name: config.name };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let last: readonly string[] | undefined;

  async function resolveOnce(onChange: OriginsListener): Promise<void> {
    const startedAt = Date.now();
    const [v4, v6] = await Promise.allSettled([
      resolver.resolve4(config.name),
      resolver.resolve6(config.name),
    ]);
    if (stopped) return;
    const outcome = report(v4, v6, onChange);
    deps.onResolution?.(outcome);
    timer = setTimeout(
      () => void resolveOnce(onChange),
      Math.max(0, config.interval_ms - (Date.now() - startedAt)),
    );
    timer.unref();
  }

  function report(
    v4: PromiseSettledResult<string[]>,
    v6: PromiseSettledResult<string[]>,
    onChange: OriginsListener,
  ): DnsOutcome {
    const failure = [v4, v6].find((r) => r.status === 'rejected' && !isNoRecords(r.reason));
    if (failure !== undefined && failure.status === 'rejected') {
      deps.logger.warn(
        { ...log, err: errorCode(failure.reason), kept: last?.length ?? 0 },
        'dns lookup failed',
      );
      return 'fail';
    }
    const addresses = [...fulfilled(v4), ...fulfilled(v6)];
    if (addresses.length === 0) {
      deps.logger.warn({ ...log, kept: last?.length ?? 0 }, 'dns name has no A/AAAA records');
      return 'empty';
    }
    const origins = uniqueSorted(addresses.map((address) => originOf(address, config.port, config.protocol)));
    if (last === undefined || !sameList(last, origins)) {
      deps.logger.info({ ...log, endpoints: origins }, 'dns endpoints changed');
      last = origins;
      onChange(origins);
    }
    return 'ok';
  }

  return {
    start(onChange) {
      return resolveOnce(onChange);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      resolver.cancel();
    },
  };
}

export function originOf(address: string, port: number, protocol: UpstreamProtocol = 'http'): string {
  return isIP(address) === 6 ? `${protocol}://[${address}]:${port}` : `${protocol}://${address}:${port}`;
}

function isNoRecords(reason: unknown): boolean {
  const code = errorCode(reason);
  return code === 'ENODATA' || code === 'ENOTFOUND';
}

function errorCode(reason: unknown): string {
  if (typeof reason === 'object' && reason !== null && 'code' in reason && typeof reason.code === 'string') {
    return reason.code;
  }
  return String(reason);
}

function fulfilled(result: PromiseSettledResult<string[]>): string[] {
  return result.status === 'fulfilled' ? result.value : [];
}

function uniqueSorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
