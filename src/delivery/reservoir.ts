/**
 * Latency samples for the p99 check come from an unbounded stream of requests; a reservoir keeps
 * a fixed-size sample in which every value seen so far had the same chance to be kept, so the
 * sample's p99 estimates the stream's without the memory growing with traffic.
 */

/** A bounded uniform sample of a stream (Vitter's algorithm R); random injectable for tests. */
export class Reservoir {
  private readonly kept: Float64Array;
  private readonly random: () => number;
  private count = 0;

  constructor(capacity: number, random: () => number = Math.random) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`a reservoir needs a whole capacity of at least 1, got ${capacity}`);
    }
    this.kept = new Float64Array(capacity);
    this.random = random;
  }

  /** How many values were offered since construction or the last clear(). */
  get seen(): number {
    return this.count;
  }

  /**
   * Algorithm R: the first `capacity` values fill the reservoir; the i-th value after that (0-based
   * i) replaces a uniformly chosen slot with probability capacity / (i + 1). On the request path:
   * no allocation, one random draw at most, O(1).
   */
  add(value: number): void {
    const i = this.count++;
    if (i < this.kept.length) {
      this.kept[i] = value;
      return;
    }
    const slot = Math.floor(this.random() * (i + 1));
    if (slot < this.kept.length) this.kept[slot] = value;
  }

  /** A copy of the kept samples, in slot order (not sorted, not arrival order once full). */
  values(): Float64Array {
    return this.kept.slice(0, Math.min(this.count, this.kept.length));
  }

  /** Forget everything, e.g. when a new rollout step starts a fresh evidence window. */
  clear(): void {
    this.count = 0;
  }
}
