import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's default process and Node.js metrics under `prefix`, lint clean. The Prometheus
 * naming rules (and `promtool check metrics`) keep the `_total` suffix for counters, but three of
 * prom-client's gauges carry it: `nodejs_active_handles_total`, `nodejs_active_requests_total`
 * and `nodejs_active_resources_total`. Each is the sum of a gauge served beside it by type
 * (`nodejs_active_handles{type}`, …), so they are dropped: `sum(...)` over that gauge gives the
 * same number without a second series that breaks the naming rules.
 */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const metric of registry.getMetricsAsArray()) {
    const { name } = metric;
    if (name.startsWith(prefix) && name.endsWith('_total') && metric instanceof Gauge)
      registry.removeSingleMetric(name);
  }
}
