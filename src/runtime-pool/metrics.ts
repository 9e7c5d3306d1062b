import { Counter, Gauge, type Registry } from 'prom-client';
import type { DnsOutcome } from './discovery.js';
import type { HealthState } from './endpoint.js';
import type { HealthCheckOutcome } from './health.js';

/** What the gauges read from a pool's endpoints when Prometheus scrapes. */
export interface EndpointGaugeSource {
  readonly label: string;
  readonly health: HealthState;
  readonly inFlight: number;
  /** Epoch milliseconds until which outlier detection keeps it out of rotation. */
  readonly ejectedUntil: number;
}

export interface UpstreamMetrics {
  ejection(upstream: string, endpoint: string): void;
  healthCheck(upstream: string, outcome: HealthCheckOutcome): void;
  dnsResolution(upstream: string, outcome: DnsOutcome): void;
  /** Adds a pool's endpoints to the gauges; call the returned function when the pool closes. */
  track(upstream: string, endpoints: () => Iterable<EndpointGaugeSource>): () => void;
}

/**
 * Every upstream metric, registered on `registry` (the gateway's, never prom-client's global
 * one, so tests and several gateways in one process do not collide). Call once per registry.
 * The endpoint label is host:port, bounded by the pools' sizes.
 */
export function createUpstreamMetrics(registry: Registry): UpstreamMetrics {
  const sources = new Set<{ upstream: string; endpoints: () => Iterable<EndpointGaugeSource> }>();

  // Gauges are computed at scrape time rather than updated on every request: the hot path
  // stays a counter increment, and endpoints that discovery removed disappear from the output.
  new Gauge({
    name: 'switchyard_upstream_endpoint_healthy',
    help: 'Whether the endpoint passes its active health checks (1) or not (0).',
    labelNames: ['upstream', 'endpoint'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { upstream, endpoints } of sources) {
        for (const e of endpoints())
          this.set({ upstream, endpoint: e.label }, e.health === 'healthy' ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'switchyard_upstream_endpoint_in_flight',
    help: 'Requests the gateway has in flight to the endpoint.',
    labelNames: ['upstream', 'endpoint'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { upstream, endpoints } of sources) {
        for (const e of endpoints()) this.set({ upstream, endpoint: e.label }, e.inFlight);
      }
    },
  });
  new Gauge({
    name: 'switchyard_upstream_endpoint_ejected',
    help: 'Whether passive outlier detection has the endpoint out of rotation now (1) or not (0).',
    labelNames: ['upstream', 'endpoint'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const { upstream, endpoints } of sources) {
        for (const e of endpoints()) this.set({ upstream, endpoint: e.label }, e.ejectedUntil > now ? 1 : 0);
      }
    },
  });
  const ejections = new Counter({
    name: 'switchyard_upstream_ejections_total',
    help: 'Times an endpoint was ejected by passive outlier detection.',
    labelNames: ['upstream', 'endpoint'] as const,
    registers: [registry],
  });
  const healthChecks = new Counter({
    name: 'switchyard_upstream_health_checks_total',
    help: 'Active health checks by outcome (a 503 from the ready path is a fail).',
    labelNames: ['upstream', 'outcome'] as const,
    registers: [registry],
  });
  const dnsResolutions = new Counter({
    name: 'switchyard_upstream_dns_resolutions_total',
    help: 'DNS discovery lookups by outcome; on fail and empty the last known endpoints are kept.',
    labelNames: ['upstream', 'outcome'] as const,
    registers: [registry],
  });

  return {
    ejection(upstream, endpoint) {
      ejections.inc({ upstream, endpoint });
    },
    healthCheck(upstream, outcome) {
      healthChecks.inc({ upstream, outcome });
    },
    dnsResolution(upstream, outcome) {
      dnsResolutions.inc({ upstream, outcome });
    },
    track(upstream, endpoints) {
      const source = { upstream, endpoints };
      sources.add(source);
      return () => {
        sources.delete(source);
      };
    },
  };
}
