export type Priority = 'high' | 'normal' | 'low';
export type GateResult = 'admitted' | 'queue_full' | 'budget' | 'displaced' | 'closed';

const ORDER: readonly Priority[] = ['high', 'normal', 'low'];

interface Waiter {
  priority: Priority;
  settle(result: GateResult): void;
  timer: NodeJS.Timeout;
}

/**
 * At most `maxConcurrency` requests of a model run at once; up to `maxQueue` more wait, served
 * high before normal before low, first come first served within a priority. A waiter leaves
 * with `budget` when its time runs out (the caller computes when its budget stops covering the
 * model's latency), and a full queue takes a higher-priority newcomer by displacing the newest
 * waiter of the lowest priority below it. The gate outlives config reloads: limits change in place.
 */
export class AdmissionGate {
  private running = 0;
  private readonly queues: Record<Priority, Waiter[]> = { high: [], normal: [], low: [] };
  private waiting = 0;

  constructor(
    private maxConcurrency: number,
    private maxQueue: number,
  ) {}

  setLimits(maxConcurrency: number, maxQueue: number): void {
    this.maxConcurrency = maxConcurrency;
    this.maxQueue = maxQueue;
    this.admitWaiters();
  }

  /** The limits in force (what setLimits last set). */
  get limits(): { maxConcurrency: number; maxQueue: number } {
    return { maxConcurrency: this.maxConcurrency, maxQueue: this.maxQueue };
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting;
  }

  /** Runs at once when there is room; else queues until `waitMs` passes. */
  enter(priority: Priority, waitMs: number): GateResult | Promise<GateResult> {
    if (this.running < this.maxConcurrency && this.waiting === 0) {
      this.running++;
      return 'admitted';
    }
    if (waitMs <= 0) return 'budget';
    if (this.waiting >= this.maxQueue && !this.displaceBelow(priority)) return 'queue_full';
    return new Promise<GateResult>((resolve) => {
      const waiter: Waiter = {
        priority,
        settle: resolve,
        timer: setTimeout(() => {
          if (this.remove(waiter)) resolve('budget');
        }, waitMs),
      };
      this.queues[priority].push(waiter);
      this.waiting++;
    });
  }

  /** Call once for every 'admitted'. */
  leave(): void {
    this.running--;
    this.admitWaiters();
  }

  private admitWaiters(): void {
    while (this.running < this.maxConcurrency && this.waiting > 0) {
      const waiter = this.shiftHighest()!;
      clearTimeout(waiter.timer);
      this.running++;
      waiter.settle('admitted');
    }
  }

  private shiftHighest(): Waiter | undefined {
    for (const priority of ORDER) {
      const waiter = this.queues[priority].shift();
      if (waiter) {
        this.waiting--;
        return waiter;
      }
    }
    return undefined;
  }

  /** Sheds the newest waiter of the lowest priority strictly below `priority`; false if none. */
  private displaceBelow(priority: Priority): boolean {
    for (let i = ORDER.length - 1; i > ORDER.indexOf(priority); i--) {
      const victim = this.queues[ORDER[i]!].pop();
      if (victim) {
        this.waiting--;
        clearTimeout(victim.timer);
        victim.settle('displaced');
        return true;
      }
    }
    return false;
  }

  private remove(waiter: Waiter): boolean {
    const queue = this.queues[waiter.priority];
    const index = queue.indexOf(waiter);
    if (index < 0) return false;
    queue.splice(index, 1);
    this.waiting--;
    return true;
  }
}
