import type { Logger } from '../shared/logger.js';
import { OutageLog } from '../shared/outage-log.js';
import type { EndpointState } from './endpoint.js';

export interface PoolAvailabilityDeps {
  upstream: string;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** The pool's endpoints as they stand. */
  endpoints: () => readonly EndpointState[];
  now: () => number;
}

/**
 * Says when a pool has no endpoint in rotation (every one unhealthy, draining or ejected, or none
 * discovered) and when it has one again: one line each, with the count of calls that found none
 * in between (the outage-log pattern of src/shared/outage-log.ts), never a line per request.
 *
 * Checked on every change that can empty or refill the pool (a health check, a drain, an
 * ejection, discovery) and on every pick, which also sees an ejection run out, since that has
 * no event of its own.
 */
export class PoolAvailability {
  private readonly outage: OutageLog;

  constructor(private readonly deps: PoolAvailabilityDeps) {
    this.outage = new OutageLog(deps.logger, {
      subject: `upstream "${deps.upstream}"`,
      dependency: 'endpoints',
      failing: 'all out of rotation',
      recovered: 'back in rotation',
      consequence: 'calls to its variants fail or fall back',
      unit: 'calls',
      fields: () => ({ upstream: deps.upstream, endpoints: this.describe() }),
    });
  }

  get empty(): boolean {
    return this.outage.down;
  }

  /** After a change: starts or ends the outage when the pool emptied or refilled. */
  check(): void {
    const at = this.deps.now();
    if (this.deps.endpoints().some((e) => e.isEligible(at))) this.outage.recovered();
    else if (!this.outage.down) this.outage.failed(this.reason(), 0);
  }

  /** A pick found no eligible endpoint: the call fails (or falls back) for want of one. */
  noneEligible(): void {
    if (this.outage.down) this.outage.affected();
    else this.outage.failed(this.reason());
  }

  /** A pick found an eligible endpoint (cheap when there was no outage). */
  someEligible(): void {
    if (this.outage.down) this.outage.recovered();
  }

  private reason(): string {
    return this.deps.endpoints().length === 0 ? 'no endpoint discovered' : 'no endpoint eligible';
  }

  /** Each endpoint and why it is out: `127.0.0.1:8001 unhealthy`, `… draining (not-ready)`. */
  private describe(): string[] {
    const at = this.deps.now();
    return this.deps.endpoints().map((e) => {
      const why: string[] = [];
      if (e.health === 'unhealthy') why.push('unhealthy');
      if (e.draining) why.push(`draining (${[...e.drainReasons].join(', ')})`);
      if (e.isEjected(at)) why.push('ejected');
      return `${e.label} ${why.length ? why.join(', ') : 'eligible'}`;
    });
  }
}
