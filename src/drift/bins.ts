/*
 * How a value finds its histogram bin when the bins have edges of their own. The rollout's
 * evidence uses equal-width bins over a feature's [min, max] (src/delivery/bins.ts FixedBins); a
 * reference histogram file sets its own edges, e.g. the deciles of the training data, so that each
 * bin holds a tenth of the reference and PSI sees a shift wherever the data actually are. A
 * long-tailed feature such as an amount in [0, 20000] with a median of 45 puts nearly everything
 * in the first of ten equal-width bins, where no shift within the body of the distribution shows.
 */

/**
 * Bins between ascending edges, numpy.histogram's convention: edges e0 < e1 < … < ek make k bins,
 * [e_i, e_i+1) each and the last closed. Out-of-range values (and ±Infinity) land in the edge bins,
 * as in FixedBins, so no observation is silently dropped.
 */
export class EdgeBins {
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

  /** The bin of `value`, or -1 for NaN (which has no position). */
  index(value: number): number {
    return Number.isNaN(value) ? -1 : binBetween(this.edges, 0, this.count, value);
  }
}

/** Up to this many bins, counting the edges passed beats a binary search (see binBetween). */
const LINEAR_BINS = 16;

/**
 * The bin of `value` among the `count` bins whose edges start at `edges[first]`; `value` must not
 * be NaN. The drift tracker keeps all of a variant's edges in one array and calls this on the
 * request path. For the usual ten bins it counts the inner edges at or below the value, with no
 * branch on the data: a binary search's branches go either way at random and each misprediction
 * costs more than the comparisons saved (measured with bench/drift-record.ts: about 17 against
 * 26–30 ns a value). More bins take the binary search.
 */
export function binBetween(edges: Float64Array, first: number, count: number, value: number): number {
  if (count <= LINEAR_BINS) {
    let bin = 0;
    for (let i = 1; i < count; i++) bin += +(value >= edges[first + i]!);
    return bin;
  }
  let low = 0;
  let high = count - 1;
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if (value >= edges[first + middle]!) low = middle;
    else high = middle - 1;
  }
  return low;
}
