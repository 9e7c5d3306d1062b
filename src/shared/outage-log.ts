import type { Logger } from './logger.js';

export interface OutageLogOptions {
  /** Starts every line: who is affected ('rate limiter', 'result cache', 'prediction log'). */
  subject: string;
  /** What failed. Default 'Redis'. */
  dependency?: string;
  /** The state while it fails, in the first and the periodic line. Default 'unreachable'. */
  failing?: string;
  /** The state once it works again. Default 'reachable again'. */
  recovered?: string;
  /** What happens meanwhile, said once in the first line. */
  consequence: string;
  /** What the counts count: 'requests', 'checks', 'records'. */
  unit: string;
  /** Fields added to every line, read when a line is logged. */
  fields?: () => Record<string, unknown>;
  /** Longest gap between two lines about the same outage while it affects anything. Default 10 s. */
  intervalMs?: number;
  now?: () => number;
}

const DEFAULT_INTERVAL_MS = 10_000;

/**
 * The log of one dependency's outages as seen by one of its users: a line when it starts (with
 * the first error), a count of what it affected at most every `intervalMs` while it lasts, and a
 * line when it ends with the total. During an outage every request fails the same way, so a line
 * per request says nothing new, and at a few thousand requests a second it floods the log (every
 * warning is also a synchronous flush of stdout).
 *
 * The periodic line is written by the failure that finds the interval elapsed, not by a timer: a
 * quiet outage costs no line and no timer to clean up, and its count is in the recovery line.
 */
export class OutageLog {
  private downSince: number | undefined;
  private lastLineAt = 0;
  private affectedTotal = 0;
  private affectedSinceLine = 0;
  private readonly dependency: string;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly logger: Pick<Logger, 'info' | 'warn'>,
    private readonly options: OutageLogOptions,
  ) {
    this.dependency = options.dependency ?? 'Redis';
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  get down(): boolean {
    return this.downSince !== undefined;
  }

  /** A failure that affected `affected` units; the first of an outage is logged with its error. */
  failed(error: unknown, affected = 1): void {
    if (this.downSince !== undefined) {
      this.affected(affected);
      return;
    }
    const now = this.now();
    this.downSince = this.lastLineAt = now;
    this.affectedTotal = affected;
    this.affectedSinceLine = 0;
    const { subject, consequence } = this.options;
    this.logger.warn(
      { ...this.options.fields?.(), err: error instanceof Error ? error.message : String(error) },
      `${subject}: ${this.dependency} ${this.options.failing ?? 'unreachable'}; ${consequence}`,
    );
  }

  /** Counts units the outage affected without a new failure (a request decided without trying). */
  affected(count = 1): void {
    if (this.downSince === undefined) return;
    this.affectedTotal += count;
    this.affectedSinceLine += count;
    const now = this.now();
    if (now - this.lastLineAt < this.intervalMs) return;
    this.logger.warn(
      {
        ...this.options.fields?.(),
        affected: this.affectedSinceLine,
        affected_total: this.affectedTotal,
        unit: this.options.unit,
        down_ms: Math.round(now - this.downSince),
      },
      `${this.options.subject}: ${this.dependency} still ${this.options.failing ?? 'unreachable'}`,
    );
    this.lastLineAt = now;
    this.affectedSinceLine = 0;
  }

  /** A success: ends the outage, if there was one, with a line giving its length and total. */
  recovered(): void {
    if (this.downSince === undefined) return;
    const now = this.now();
    this.logger.info(
      {
        ...this.options.fields?.(),
        affected_total: this.affectedTotal,
        unit: this.options.unit,
        down_ms: Math.round(now - this.downSince),
      },
      `${this.options.subject}: ${this.dependency} ${this.options.recovered ?? 'reachable again'}`,
    );
    this.downSince = undefined;
  }
}
