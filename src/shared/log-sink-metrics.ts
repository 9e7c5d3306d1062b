import { Counter, type Registry } from 'prom-client';
import { logSinkStats } from './logger.js';

/**
 * `<prefix>_log_lines_dropped_total`: log lines the process could not write (stdout's reader was
 * gone or did not keep up; src/shared/log-sink.ts). Read from the sink when scraped.
 */
export function registerLogSinkMetrics(registry: Registry, prefix: string): void {
  new Counter({
    name: `${prefix}_log_lines_dropped_total`,
    help: "Log lines dropped because stdout's reader went away or did not keep up.",
    registers: [registry],
    collect() {
      this.reset();
      const { dropped } = logSinkStats();
      if (dropped > 0) this.inc(dropped);
    },
  });
}
