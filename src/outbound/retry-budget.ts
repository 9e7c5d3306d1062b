/**
 * Retries as a budget, as Finagle and Envoy do: every request deposits `percent`/100 of a token,
 * the clock adds `minPerSecond` tokens a second, and a retry spends one. Retries so stay under
 * that share of traffic however badly the runtimes fail, instead of multiplying the load.
 */
export class RetryBudget {
  /** In hundredths of a retry, so percent deposits add up exactly. */
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly percent: number,
    private readonly minPerSecond: number,
    private readonly now: () => number = () => performance.now(),
    /** Seconds of deposits the budget may hold, so a quiet spell cannot bank a retry storm. */
    private readonly capSeconds = 10,
  ) {
    this.tokens = minPerSecond * 100;
    this.updatedAt = now();
  }

  /** Called once per request (not per attempt). */
  deposit(): void {
    this.refill();
    this.tokens = Math.min(this.tokens + this.percent, this.cap());
  }

  tryWithdraw(): boolean {
    this.refill();
    if (this.tokens < 100) return false;
    this.tokens -= 100;
    return true;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.tokens + (now - this.updatedAt) * (this.minPerSecond / 10), this.cap());
    this.updatedAt = now;
  }

  private cap(): number {
    // Enough for a burst of retries after a failure of one endpoint among several.
    return Math.max(this.minPerSecond * this.capSeconds, 10) * 100;
  }
}
