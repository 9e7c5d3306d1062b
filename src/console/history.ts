import type { Registry } from 'prom-client';
import { readTraffic, type TrafficReading } from './traffic.js';

export interface TrafficHistoryOptions {
  /** How often a reading is kept: the time charts' resolution. */
  sampleMs: number;
  /** Readings kept; the charts span (keep - 1) × sampleMs. */
  keep: number;
  now?: () => number;
}

/** 5 s points over 5 minutes: a console polling every few seconds sees a new point about every other poll. */
export const TRAFFIC_HISTORY_DEFAULTS: TrafficHistoryOptions = { sampleMs: 5000, keep: 61 };

/**
 * The gateway's counters as they were every few seconds, for the last few minutes: what a rate
 * over "the last minute" and the console's time charts are computed from. Prometheus has the
 * long history; this is only what the page needs without one. Bounded: `keep` readings of a few
 * hundred numbers each.
 */
export class TrafficHistory {
  private readonly readings: TrafficReading[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(
    private readonly registry: Registry,
    private readonly options: TrafficHistoryOptions = TRAFFIC_HISTORY_DEFAULTS,
  ) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.options.sampleMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes a reading now and keeps it (the timer calls this; tests may too). */
  async sample(): Promise<void> {
    this.keepReading(await readTraffic(this.registry, this.now()));
  }

  keepReading(reading: TrafficReading): void {
    this.readings.push(reading);
    if (this.readings.length > this.options.keep)
      this.readings.splice(0, this.readings.length - this.options.keep);
  }

  /** The kept readings, oldest first. */
  all(): readonly TrafficReading[] {
    return this.readings;
  }

  /** The counters as they are now (not kept). */
  current(): Promise<TrafficReading> {
    return readTraffic(this.registry, this.now());
  }

  /**
   * The reading a window of `windowMs` ending at `at` starts from: the newest one at least that
   * old, or the oldest kept when the process is younger than the window.
   */
  windowStart(at: number, windowMs: number): TrafficReading | undefined {
    let start = this.readings[0];
    for (const reading of this.readings) {
      if (reading.at <= at - windowMs) start = reading;
      else break;
    }
    return start;
  }
}
