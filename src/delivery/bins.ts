/**
 * Histogram bins for drift checks (PSI): candidate and baseline must be counted into the very same
 * bins, so the bins are fixed from config rather than learned from either side's data.
 */

/** Fixed equal-width bins over [min, max]; values outside land in the edge bins; NaN in none (index -1). */
export class FixedBins {
  readonly count: number;
  private readonly min: number;
  private readonly max: number;
  private readonly binsPerUnit: number;

  constructor(min: number, max: number, count: number) {
    if (!Number.isFinite(min) || !Number.isFinite(max) || !(min < max)) {
      throw new RangeError(`bins need finite min < max, got [${min}, ${max}]`);
    }
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`bins need a whole count of at least 1, got ${count}`);
    }
    this.min = min;
    this.max = max;
    this.count = count;
    this.binsPerUnit = count / (max - min);
  }

  /**
   * Bins are half-open [lower, upper) except the last, which also holds max. Clamping keeps
   * out-of-range values (and ±Infinity) in the edge bins so no observation is silently dropped;
   * NaN carries no position, so it gets -1 and the caller counts it elsewhere.
   */
  index(value: number): number {
    if (Number.isNaN(value)) return -1;
    if (value <= this.min) return 0;
    if (value >= this.max) return this.count - 1;
    // Rounding can push a value just under max to `count`; the clamp keeps it in the last bin.
    return Math.min(this.count - 1, Math.floor((value - this.min) * this.binsPerUnit));
  }
}
