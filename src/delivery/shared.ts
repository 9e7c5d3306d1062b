import type { Logger } from '../shared/logger.js';
import { OutageLog } from '../shared/outage-log.js';
import type { RolloutController } from './controller.js';
import type { EvidenceSnapshot } from './evidence.js';
import type { RolloutStore } from './store.js';

/** Events kept in the shared progress: it is written every interval, so it stays small. */
const SHARED_EVENTS = 100;
/** Evidence reaches the store about once a second, however long the interval. */
const FLUSH_MS = 1000;
/** An operator's action retried this often when a judgement wrote in between. */
const ACT_ATTEMPTS = 3;

/** The store could not be reached: an operator's action did not happen. */
export class RolloutStoreUnavailableError extends Error {}

const isFinal = (status: string) => status === 'completed' || status === 'rolled_back';

function hasEvidence({ baseline, candidate, comparison }: EvidenceSnapshot): boolean {
  return baseline.requests + candidate.requests + comparison.sent > 0;
}

/**
 * Runs a rollout shared by every replica. Each cycle (about a second, at most an interval) hands
 * this replica's evidence to the store, takes or renews the lease and reads the progress, in one
 * round trip; every replica serves the progress it read. The leaseholder alone judges, once an
 * interval, the evidence every replica gave for the current step, and writes what follows. When
 * the store cannot be reached the rollout holds where it is: nothing is judged and no step
 * changes, while the request path keeps reading the share it had, never the store.
 */
export class SharedRollout {
  leader = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private cycling = false;
  /** The version of the progress this replica serves; 0 before any was stored. */
  private version = 0;
  private judgedAt = Date.now();
  private unreachableSince: number | undefined;
  private readonly startedAt = Date.now();
  private reached = false;
  private readonly outage: OutageLog;
  /** Requests whose evidence the cycle under way carries: dropped if the store cannot take it. */
  private carrying = 0;
  /** Cycles and operators' actions run one at a time: each reads, changes and writes the progress. */
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly controller: RolloutController,
    private readonly store: RolloutStore,
    private readonly logger: Logger,
  ) {
    this.outage = new OutageLog(logger, {
      subject: 'rollout',
      consequence:
        'the rollout holds at its step (no judgement, no step change) until it is back; the evidence of requests served meanwhile is dropped',
      unit: 'requests',
      fields: () => ({ model: controller.model, step: controller.step }),
    });
  }

  private get periodMs(): number {
    return Math.min(FLUSH_MS, this.controller.policy.interval_s * 1000);
  }

  start(): void {
    void this.cycle();
    this.timer = setInterval(() => void this.cycle(), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    // Handing the lease over now spares the others waiting out its TTL.
    if (this.leader) void this.store.release().catch(() => undefined);
    this.leader = false;
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.lock.then(task, task);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async cycle(): Promise<void> {
    if (this.cycling || this.stopped) return; // a slow store: skip a beat rather than pile up
    this.cycling = true;
    try {
      await this.exclusive(() => this.exchange());
    } catch (error) {
      this.unreachable(error, this.carrying);
    } finally {
      this.carrying = 0;
      this.cycling = false;
    }
  }

  private async exchange(): Promise<void> {
    const { controller } = this;
    const taken = controller.evidence.drain();
    // Evidence that fails to reach the store is dropped: the rollout holds meanwhile anyway.
    const delta =
      !isFinal(controller.state.status) && hasEvidence(taken)
        ? { stepIndex: controller.state.stepIndex, evidence: taken }
        : undefined;
    this.carrying = delta ? taken.baseline.requests + taken.candidate.requests : 0;
    const { leader, stored } = await this.store.exchange(delta, this.leader);
    this.carrying = 0;
    this.reachable();
    if (leader !== this.leader) {
      this.leader = leader;
      this.logger.info(
        { model: controller.model, step: controller.step, lease_ms: this.store.leaseMs },
        leader ? 'rollout: this replica leads' : 'rollout: another replica leads',
      );
    }
    if (stored && stored.version !== this.version) {
      controller.adopt(stored.progress);
      this.version = stored.version;
    }
    if (!leader || this.stopped) return;
    if (!stored) {
      // The first leader writes the first progress: from the first step, or from where this
      // replica was if the store lost what it had.
      await this.save(
        () => {
          controller.begin();
          return true;
        },
        0,
        true,
      );
      this.judgedAt = Date.now();
      return;
    }
    if (isFinal(controller.state.status)) return;
    const dueMs = controller.policy.interval_s * 1000 - this.periodMs / 2;
    if (Date.now() - this.judgedAt < dueMs) return;
    this.judgedAt = Date.now();
    const evidence = await this.store.evidence(controller.state.stepIndex);
    await this.save(
      () => {
        controller.judgeEvidence(evidence);
        return true;
      },
      stored.version,
      true,
    );
  }

  /**
   * Applies `change` and writes the result if the stored version is still `expected`; on a lost
   * race the change is undone (the next cycle reads the winner). Its events are announced only
   * once written, so a log line or notification never tells of a step that did not happen.
   */
  private async save(
    change: () => boolean,
    expected: number,
    asLeader: boolean,
  ): Promise<boolean | 'conflict'> {
    const pending = this.controller.change(change);
    if (!pending.done) return false;
    const progress = this.controller.progress();
    progress.events = progress.events.slice(-SHARED_EVENTS);
    let written: boolean;
    try {
      written = await this.store.write(progress, expected, asLeader);
    } catch (error) {
      pending.discard();
      throw error;
    }
    if (!written) {
      pending.discard();
      return 'conflict';
    }
    this.version = expected + 1;
    this.controller.adopt(progress); // what is stored, events trimmed alike
    pending.commit();
    return true;
  }

  /** An operator's pause, resume or abort, on the shared progress; the leader goes on from it. */
  act(action: 'pause' | 'resume' | 'abort'): Promise<boolean> {
    const { controller } = this;
    return this.exclusive(async () => {
      try {
        for (let attempt = 0; attempt < ACT_ATTEMPTS; attempt++) {
          const stored = await this.store.read();
          if (stored && stored.version !== this.version) {
            controller.adopt(stored.progress);
            this.version = stored.version;
          }
          const done = await this.save(() => controller[action](), stored?.version ?? 0, false);
          if (done !== 'conflict') return done;
        }
      } catch (error) {
        this.unreachable(error);
        throw new RolloutStoreUnavailableError(`the rollout's shared state: ${String(error)}`, {
          cause: error,
        });
      }
      throw new RolloutStoreUnavailableError(
        `the rollout's shared state kept changing (${ACT_ATTEMPTS} attempts)`,
      );
    });
  }

  private unreachable(error: unknown, droppedRequests = 0): void {
    // At start the connection is still being made (commands fail at once, no offline queue):
    // not an outage until it has had a lease's time to come up.
    if (!this.reached && Date.now() - this.startedAt < this.store.leaseMs) return;
    this.unreachableSince ??= Date.now();
    // Once per outage, then the requests whose evidence was dropped every 10 s, and its end.
    this.outage.failed(error, droppedRequests);
  }

  private reachable(): void {
    this.reached = true;
    this.unreachableSince = undefined;
    this.outage.recovered();
  }

  /** What the admin API shows of the sharing. */
  describe(): object {
    return {
      lease_ms: this.store.leaseMs,
      version: this.version,
      holding:
        this.unreachableSince === undefined
          ? null
          : `Redis unreachable since ${new Date(this.unreachableSince).toISOString()}: no judgement, no step change`,
    };
  }
}
