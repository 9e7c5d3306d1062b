/**
 * The model's recent upstream latency: the last `size` successful calls in a ring, with
 * quantiles recomputed at most every `refreshMs`, so reading it on every request costs nothing.
 * Admission sheds a request whose budget cannot cover the median; a retry needs room for the p90.
 */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;
  private computedAt = Number.NEGATIVE_INFINITY;
  private p50 = 0;
  private p90 = 0;

  constructor(
    size = 256,
    private readonly refreshMs = 100,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.samples = new Float64Array(size);
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
  }

  /** Median of recent calls in ms; 0 before any call, so nothing is shed for lack of data. */
  median(): number {
    this.refresh();
    return this.p50;
  }

  p90Ms(): number {
    this.refresh();
    return this.p90;
  }

  private refresh(): void {
    const now = this.now();
    if (now - this.computedAt < this.refreshMs) return;
    this.computedAt = now;
    if (this.count === 0) return;
    const sorted = this.samples.slice(0, this.count).sort();
    this.p50 = sorted[Math.floor((this.count - 1) * 0.5)]!;
    this.p90 = sorted[Math.floor((this.count - 1) * 0.9)]!;
  }
}
