import type { Registry } from 'prom-client';

/** One exposition line as prom-client's registry reads it. */
interface ExposedValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/** One label set's counts: what `observe` touches on the request path. */
export class HistogramChild {
  /** Per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly upperBounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export interface LeanHistogramOptions<Names extends string> {
  name: string;
  help: string;
  labelNames: readonly Names[];
  /** Upper bounds in seconds, ascending; +Inf is added. */
  buckets: readonly number[];
  registers: readonly Registry[];
}

/**
 * A Prometheus histogram for the request path, exposed through prom-client's registry like any
 * other metric. prom-client's own validates the labels, hashes them and looks the bucket up by
 * its string form on every observation (~0.6 µs each, nine a request); here a child is bound to
 * its labels once and an observation is a bucket search and three additions. The exposition is
 * the same: `_bucket` (cumulative, `le`), `_sum`, `_count`.
 */
export class LeanHistogram<Names extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly children = new Map<string, HistogramChild>();
  private readonly labelNames: readonly Names[];
  private readonly upperBounds: readonly number[];

  constructor(options: LeanHistogramOptions<Names>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    this.upperBounds = [...options.buckets].sort((a, b) => a - b);
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  /** The child for these labels, made on first use; keep it rather than asking per observation. */
  labels(labels: Readonly<Record<Names, string>>): HistogramChild {
    const values = this.labelNames.map((name) => {
      const value = labels[name];
      if (typeof value !== 'string') throw new TypeError(`${this.name}: label "${name}" is missing`);
      return value;
    });
    const key = JSON.stringify(values);
    let child = this.children.get(key);
    if (!child) {
      child = new HistogramChild(this.upperBounds, { ...labels });
      this.children.set(key, child);
    }
    return child;
  }

  reset(): void {
    this.children.clear();
  }

  /** What prom-client's registry renders (and aggregates across cluster workers). */
  get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: ExposedValue[];
  }> {
    const values: ExposedValue[] = [];
    for (const child of this.children.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.upperBounds.length; i++) {
        cumulative += child.counts[i]!;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le: i < this.upperBounds.length ? this.upperBounds[i]! : '+Inf', ...child.labels },
          value: cumulative,
        });
      }
      values.push({ metricName: `${this.name}_sum`, labels: child.labels, value: child.sum });
      values.push({ metricName: `${this.name}_count`, labels: child.labels, value: child.count });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }
}
