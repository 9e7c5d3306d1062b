import type { Registry } from 'prom-client';

/** A variant's request counts and latency histogram, summed over endpoints and versions. */
export interface VariantCounts {
  requests: number;
  /** Outcome `error`: a 5xx answer (the gateway's or the runtime's). */
  errors: number;
  /** Outcome `fallback`: answered by a fallback. */
  fallbacks: number;
  /** Cumulative counts per upper bound of `switchyard_request_duration_seconds` (+Inf last). */
  latency: number[];
}

/** What one model's counters held at one moment. Keys join label values with '/'. */
export interface ModelCounts {
  variants: Map<string, VariantCounts>;
  /** `variant/kind/reason` → answers a fallback gave. */
  fallbacks: Map<string, number>;
  /** `priority/reason` → requests shed by admission. */
  shed: Map<string, number>;
  /** `limit` → requests refused with 429. */
  rateLimited: Map<string, number>;
}

/** Every model's counters at `at` (epoch ms). Counters only grow, so two readings subtract. */
export interface TrafficReading {
  at: number;
  /** The latency histogram's upper bounds in seconds, +Inf last. */
  bounds: number[];
  models: Map<string, ModelCounts>;
}

/** The metrics a reading takes; names as in src/telemetry/metrics.ts and the stages' metrics.ts. */
export const TRAFFIC_METRICS = {
  requests: 'switchyard_requests_total',
  duration: 'switchyard_request_duration_seconds',
  fallbacks: 'switchyard_fallbacks_total',
  shed: 'switchyard_admission_shed_total',
  rateLimited: 'switchyard_admission_rate_limited_total',
} as const;

interface Sample {
  metricName?: string;
  labels: Record<string, string | number | undefined>;
  value: number;
}

async function samples(registry: Registry, name: string): Promise<Sample[]> {
  const metric = registry.getSingleMetric(name);
  return metric ? ((await metric.get()).values as Sample[]) : [];
}

const emptyModel = (): ModelCounts => ({
  variants: new Map(),
  fallbacks: new Map(),
  shed: new Map(),
  rateLimited: new Map(),
});

/**
 * Reads the counters the console shows from the gateway's registry: the same numbers /metrics
 * exposes, so the page and Prometheus never disagree. A few hundred series: cheap to take every
 * few seconds and on each admin request.
 */
export async function readTraffic(registry: Registry, at = Date.now()): Promise<TrafficReading> {
  const models = new Map<string, ModelCounts>();
  const model = (name: unknown): ModelCounts => {
    const key = String(name);
    let counts = models.get(key);
    if (!counts) models.set(key, (counts = emptyModel()));
    return counts;
  };
  const bucketSamples = (await samples(registry, TRAFFIC_METRICS.duration)).filter(
    (s) => s.metricName === `${TRAFFIC_METRICS.duration}_bucket`,
  );
  const bounds = [...new Set(bucketSamples.map((s) => leOf(s.labels.le)))].sort((a, b) => a - b);
  const variant = (counts: ModelCounts, name: string): VariantCounts => {
    let v = counts.variants.get(name);
    if (!v)
      counts.variants.set(
        name,
        (v = { requests: 0, errors: 0, fallbacks: 0, latency: new Array<number>(bounds.length).fill(0) }),
      );
    return v;
  };

  for (const s of await samples(registry, TRAFFIC_METRICS.requests)) {
    // Requests refused before a variant was chosen (auth, rate limit) have variant "": not a variant's.
    if (!s.labels.variant) continue;
    const v = variant(model(s.labels.model), String(s.labels.variant));
    v.requests += s.value;
    if (s.labels.outcome === 'error') v.errors += s.value;
    if (s.labels.outcome === 'fallback') v.fallbacks += s.value;
  }
  for (const s of bucketSamples) {
    if (!s.labels.variant) continue;
    const v = variant(model(s.labels.model), String(s.labels.variant));
    v.latency[bounds.indexOf(leOf(s.labels.le))]! += s.value;
  }
  const add = (map: Map<string, number>, key: string, value: number) =>
    map.set(key, (map.get(key) ?? 0) + value);
  for (const s of await samples(registry, TRAFFIC_METRICS.fallbacks))
    add(model(s.labels.model).fallbacks, `${s.labels.variant}/${s.labels.kind}/${s.labels.reason}`, s.value);
  for (const s of await samples(registry, TRAFFIC_METRICS.shed))
    add(model(s.labels.model).shed, `${s.labels.priority}/${s.labels.reason}`, s.value);
  for (const s of await samples(registry, TRAFFIC_METRICS.rateLimited))
    add(model(s.labels.model).rateLimited, String(s.labels.limit), s.value);
  return { at, bounds, models };
}

function leOf(le: string | number | undefined): number {
  return le === '+Inf' || le === undefined ? Infinity : Number(le);
}

/**
 * What happened between `earlier` and `later`: every counter's increase. A series missing from
 * `earlier` started after it (its increase is its value); one that went down was reset, so its
 * value is what it counted since.
 */
export function subtractReadings(later: TrafficReading, earlier: TrafficReading): TrafficReading {
  const minus = (now: number, then: number | undefined) =>
    then === undefined || then > now ? now : now - then;
  const subtractMap = (now: Map<string, number>, then: Map<string, number> | undefined) =>
    new Map([...now].map(([key, value]) => [key, minus(value, then?.get(key))]));
  const models = new Map<string, ModelCounts>();
  for (const [name, now] of later.models) {
    const then = earlier.models.get(name);
    const sameBounds = later.bounds.length === earlier.bounds.length;
    models.set(name, {
      variants: new Map(
        [...now.variants].map(([variant, v]) => {
          const before = then?.variants.get(variant);
          return [
            variant,
            {
              requests: minus(v.requests, before?.requests),
              errors: minus(v.errors, before?.errors),
              fallbacks: minus(v.fallbacks, before?.fallbacks),
              latency: v.latency.map((count, i) => minus(count, sameBounds ? before?.latency[i] : undefined)),
            },
          ];
        }),
      ),
      fallbacks: subtractMap(now.fallbacks, then?.fallbacks),
      shed: subtractMap(now.shed, then?.shed),
      rateLimited: subtractMap(now.rateLimited, then?.rateLimited),
    });
  }
  return { at: later.at, bounds: later.bounds, models };
}

/**
 * The q-quantile of a cumulative histogram, interpolated linearly inside its bucket as
 * Prometheus's histogram_quantile does; the +Inf bucket answers its lower bound. Null without
 * observations.
 */
export function histogramQuantile(
  q: number,
  bounds: readonly number[],
  cumulative: readonly number[],
): number | null {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let i = cumulative.findIndex((count) => count >= rank);
  if (i < 0) i = cumulative.length - 1;
  const upper = bounds[i]!;
  const lower = i > 0 ? bounds[i - 1]! : 0;
  if (upper === Infinity) return lower;
  const below = i > 0 ? cumulative[i - 1]! : 0;
  const inBucket = cumulative[i]! - below;
  return inBucket > 0 ? lower + (upper - lower) * ((rank - below) / inBucket) : upper;
}
