import { DRIFT_BINS } from '../delivery/evidence.js';
import { EdgeBins } from './bins.js';
import type { ReferenceHistogram } from './reference.js';

/**
 * A reference histogram of `values` as a reference file holds it: edges at the deciles (for the
 * default 10 bins) of the values, so each bin holds about a tenth of the reference and PSI is
 * equally sensitive across the distribution, and the values' counts over those edges, counted by
 * the gateway's own binning. The outer edges are the feature's range.
 *
 * Each cut sits halfway between the decile and the next smaller value in the data, so it falls
 * between values rather than on one: a discrete feature's cuts fall between its levels (an hour of
 * day at 8.5, a 0/1 flag at 0.5) and a value equal to a level is never split from its like. A lumpy
 * feature repeats quantiles (the flag, 0 for 88% of rows, has every decile but the last at 0): a
 * repeated cut is dropped, so it gets fewer, well-filled bins ([0, 0.5) and [0.5, 1]) rather than
 * empty ones. Cuts are rounded to 6 significant digits, which keeps the file readable; the counts
 * are taken over the rounded edges, so the two agree exactly.
 */
export function quantileHistogram(
  values: ArrayLike<number>,
  range: { min: number; max: number },
  bins = DRIFT_BINS,
): ReferenceHistogram {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) throw new RangeError('a reference histogram needs values');
  const edges = [range.min];
  for (let j = 1; j < bins; j++) {
    const quantile = sorted[Math.floor((j * sorted.length) / bins)]!;
    const first = firstAtLeast(sorted, quantile);
    if (first === 0) continue; // the smallest value: nothing below it to cut from
    const cut = Number(((sorted[first - 1]! + quantile) / 2).toPrecision(6));
    if (cut > edges[edges.length - 1]! && cut < range.max) edges.push(cut);
  }
  edges.push(range.max);
  const binning = new EdgeBins(edges);
  const counts = new Array<number>(binning.count).fill(0);
  for (const value of sorted) {
    const bin = binning.index(value);
    if (bin >= 0) counts[bin]!++;
  }
  return { edges, counts };
}

/** The index of the first value ≥ `value` in ascending `sorted`. */
function firstAtLeast(sorted: Float64Array, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
