import type { ModelConfig } from '../config/schema.js';
import type { ShadowPairReport } from '../stages/shadow/stats.js';
import { effectiveWeights } from '../stages/route/assign.js';
import { histogramQuantile, subtractReadings, type ModelCounts, type TrafficReading } from './traffic.js';

/** The "last minute" of the split, the rates and the tables. */
export const WINDOW_MS = 60_000;

/**
 * The PSI line drawn when no rollout check sets one: a common rule of thumb reads PSI above
 * 0.25 as a significant shift (0.1–0.25 moderate).
 */
export const DEFAULT_DRIFT_THRESHOLD = 0.25;

/** One series of the switchyard_drift_psi gauge. */
export interface DriftValue {
  variant: string;
  feature: string;
  /** What it was measured against (`reference`, `baseline`), when the gauge says. */
  against: string | null;
  psi: number;
}

/** What the overview reads besides the config: the live parts of the gateway. */
export interface OverviewSources {
  /** Counters now, the reading the last minute starts from, and the kept readings (oldest first). */
  now: TrafficReading;
  windowStart: TrafficReading | undefined;
  history: readonly TrafficReading[];
  /** The running rollout's candidate share (0..1), when the model has one. */
  rolloutShare(model: string): number | undefined;
  breaker(model: string, variant: string): string;
  shadows(model: string): ShadowPairReport[];
  gate(model: string): { inFlight: number; queued: number } | undefined;
  drift(model: string): DriftValue[];
}

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null);
const round = (value: number | null, digits: number) =>
  value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits;
const EMPTY: ModelCounts = {
  variants: new Map(),
  fallbacks: new Map(),
  shed: new Map(),
  rateLimited: new Map(),
};

/** One model as `GET /admin/models` shows it (and the console draws it). */
export function modelOverview(name: string, config: ModelConfig, sources: OverviewSources) {
  const { now, windowStart } = sources;
  const window = windowStart ? subtractReadings(now, windowStart) : now;
  const recent = window.models.get(name) ?? EMPTY;
  const total = now.models.get(name) ?? EMPTY;

  const share = sources.rolloutShare(name);
  const policy = config.rollout;
  const index = (variant: string | undefined) => config.variants.findIndex((v) => v.name === variant);
  const effective = effectiveWeights(
    config.variants.map((v) => v.weight),
    share !== undefined && policy
      ? { baseline: index(policy.baseline), candidate: index(policy.candidate), share }
      : undefined,
  );
  const routed = config.variants.reduce((n, v) => n + (recent.variants.get(v.name)?.requests ?? 0), 0);
  const variants = config.variants.map((v, i) => {
    const counts = recent.variants.get(v.name);
    const requests = counts?.requests ?? 0;
    const p99 = counts ? histogramQuantile(0.99, window.bounds, counts.latency) : null;
    return {
      name: v.name,
      version: v.version,
      upstream: v.upstream,
      weight: v.weight,
      effective_weight: effective[i]!,
      breaker: sources.breaker(name, v.name),
      last_minute: {
        requests,
        split_percent: round(routed > 0 ? (100 * requests) / routed : null, 2),
        errors: counts?.errors ?? 0,
        error_rate: round(ratio(counts?.errors ?? 0, requests), 4),
        fallbacks: counts?.fallbacks ?? 0,
        p99_ms: round(p99 === null ? null : p99 * 1000, 2),
      },
    };
  });

  const threshold = policy?.criteria.drift_psi?.max;
  const gate = sources.gate(name);
  const withTotals = <T>(
    recentMap: Map<string, number>,
    totalMap: Map<string, number>,
    keyed: (key: string) => T,
  ) =>
    [...totalMap].map(([key, count]) => ({
      ...keyed(key),
      last_minute: recentMap.get(key) ?? 0,
      total: count,
    }));
  return {
    variants,
    series: seriesOf(name, config, sources.history),
    shadows: sources.shadows(name),
    drift: {
      threshold: threshold ?? DEFAULT_DRIFT_THRESHOLD,
      threshold_source: threshold === undefined ? 'default' : 'rollout',
      psi: sources.drift(name),
    },
    fallbacks: withTotals(recent.fallbacks, total.fallbacks, (key) => {
      const [variant, kind, reason] = key.split('/');
      return { variant, kind, reason };
    }),
    admission: {
      in_flight: gate?.inFlight ?? 0,
      queued: gate?.queued ?? 0,
      shed: withTotals(recent.shed, total.shed, (key) => {
        const [priority, reason] = key.split('/');
        return { priority, reason };
      }),
      rate_limited: withTotals(recent.rateLimited, total.rateLimited, (limit) => ({ limit })),
    },
  };
}

/**
 * Per variant, between each pair of kept readings: requests/s, the error rate (5xx answers over
 * requests; null without requests) and the p99 latency in ms. `t` is each interval's end, in
 * epoch seconds (what uPlot's time axis takes).
 */
export function seriesOf(name: string, config: ModelConfig, history: readonly TrafficReading[]) {
  const t: number[] = [];
  const variants: Record<
    string,
    { rps: number[]; error_rate: (number | null)[]; p99_ms: (number | null)[] }
  > = Object.fromEntries(config.variants.map((v) => [v.name, { rps: [], error_rate: [], p99_ms: [] }]));
  for (let i = 1; i < history.length; i++) {
    const later = history[i]!;
    const seconds = (later.at - history[i - 1]!.at) / 1000;
    if (seconds <= 0) continue;
    const interval = subtractReadings(later, history[i - 1]!).models.get(name) ?? EMPTY;
    t.push(Math.round(later.at / 1000));
    for (const v of config.variants) {
      const counts = interval.variants.get(v.name);
      const requests = counts?.requests ?? 0;
      const p99 = counts ? histogramQuantile(0.99, later.bounds, counts.latency) : null;
      const line = variants[v.name]!;
      line.rps.push(round(requests / seconds, 3)!);
      line.error_rate.push(round(ratio(counts?.errors ?? 0, requests), 4));
      line.p99_ms.push(round(p99 === null ? null : p99 * 1000, 2));
    }
  }
  return { t, variants };
}
