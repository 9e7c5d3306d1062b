/**
 * How a value finds its histogram bin. The rollout's evidence uses equal-width bins over a
 * feature's [min, max] (src/delivery/bins.ts FixedBins); a reference histogram file may set its
 * own edges, e.g. the deciles of the training data, so that each bin holds a tenth of the
 * reference and PSI sees a shift wherever the data actually are. A long-tailed feature such as an
 * amount in [0, 20000] with a median of 45 puts nearly everything in the first of ten equal-width
 * bins, where no shift within the body of the distribution shows.
 */
export interface Bins {
  readonly count: number;
  /** The bin of `value`, or -1 for NaN (which has no position). */
  index(value: number): number;
}

/**
 * Bins between ascending edges, numpy.histogram's convention: edges e0 < e1 < … < ek make k bins,
 * [e_i, e_i+1) each and the last closed. Out-of-range values (and ±Infinity) land in the edge bins,
 * as in FixedBins, so no observation is silently dropped.
 */
export class EdgeBins implements Bins {
  readonly count: number;
  private readonly edges: Float64Array;

  constructor(edges: ArrayLike<number>) {
    if (edges.length < 2) throw new RangeError(`bins need at least 2 edges, got ${edges.length}`);
    for (let i = 0; i < edges.length; i++) {
      if (!Number.isFinite(edges[i]!)) throw new RangeError(`edge ${i} is ${edges[i]}`);
      if (i > 0 && !(edges[i]! > edges[i - 1]!))
        throw new RangeError(`edges must ascend: edge ${i} (${edges[i]}) is not above ${edges[i - 1]}`);
    }
    this.edges = Float64Array.from(edges);
    this.count = edges.length - 1;
  }

  /** Binary search over the inner edges: a handful of comparisons for the bin counts files use. */
  index(value: number): number {
    if (Number.isNaN(value)) return -1;
    const edges = this.edges;
    let low = 0;
    let high = this.count - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (value >= edges[middle]!) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}
