import type { ContractConfig } from '../contract/config.js';
import type { Logger } from '../shared/logger.js';
import type { DeferredTasks } from '../telemetry/deferred.js';
import type { RolloutPolicy } from './config.js';
import { EvidenceCollector, summarizeEvidence, type EvidenceSnapshot } from './evidence.js';
import { judge, type Judgement } from './judge.js';
import type { DeliveryMetrics } from './metrics.js';
import { createNotifier, type Notifier } from './notify.js';
import { SharedRollout } from './shared.js';
import type { RolloutEvent, RolloutEventKind, RolloutProgress, RolloutStoreFactory } from './store.js';

export type { RolloutEvent, RolloutEventKind, RolloutProgress, RolloutStatus } from './store.js';

/** The state a rollout's controller keeps; the admin API shows it as it is. */
export type RolloutState = RolloutProgress;

/** Events kept per rollout for the admin API; older ones are in the logs. */
const HISTORY = 200;

export interface ControllerDeps {
  logger: Logger;
  metrics: DeliveryMetrics;
  now?: () => number;
  random?: () => number;
  /** Set when state.redis_url is: the rollout is shared by every replica through the store. */
  stores?: RolloutStoreFactory;
  /** Where a failure in sending notifications is counted (the gateway's; none in tests). */
  deferred?: Pick<DeferredTasks, 'failed'>;
}

/**
 * Runs one model's rollout from its policy: every `interval_s` it judges the step's evidence and
 * advances, holds, pauses or rolls back. The file stays the desired state; what the controller
 * changes is the candidate's share of the baseline's users (`share`) and whether baseline traffic
 * is mirrored to the candidate (`mirrorPercent`), both read by the request path.
 */
export class RolloutController {
  readonly evidence: EvidenceCollector;
  private current: RolloutProgress;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private readonly now: () => number;
  private readonly notify: Notifier | undefined;
  /** Read per request: kept as a plain number, recomputed on every transition. */
  private currentShare = 0;
  /** Shared through a store (Redis): only the replica holding the lease judges. */
  private readonly shared: SharedRollout | undefined;
  /** While set, the logs, metrics and notifications of recorded events wait for the store's write. */
  private deferred: (() => void)[] | undefined;

  constructor(
    readonly model: string,
    readonly policy: RolloutPolicy,
    readonly contract: ContractConfig | undefined,
    private readonly deps: ControllerDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.evidence = new EvidenceCollector(
      { baseline: policy.baseline, candidate: policy.candidate },
      contract,
      deps.random,
    );
    this.current = {
      status: 'running',
      stepIndex: 0,
      stepStartedAt: this.now(),
      failures: 0,
      waitingFor: null,
      pendingPauseStep: null,
      resumedInto: null,
      lastJudgement: null,
      evidence: null,
      events: [],
    };
    this.notify = policy.notify ? createNotifier(policy.notify, deps.logger, deps.deferred) : undefined;
    this.shared = deps.stores
      ? new SharedRollout(
          this,
          deps.stores(model, policy, contract, {
            driftNames: this.evidence.driftNames,
            binsShadowScores: contract !== undefined,
          }),
          deps.logger,
        )
      : undefined;
    this.updateShare();
  }

  get state(): Readonly<RolloutState> {
    return this.current;
  }

  get step(): 'shadow' | number {
    return this.policy.steps[this.current.stepIndex]!;
  }

  /** The share of the baseline's users the candidate serves now, 0..1. */
  share(): number {
    return this.currentShare;
  }

  /** Percent of the baseline's requests mirrored to the candidate now. */
  mirrorPercent(): number {
    const { status } = this.current;
    return status === 'running' || status === 'paused' ? this.policy.mirror_percent : 0;
  }

  /** Starts judging; a rollout starts once, even when later config versions keep it. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.shared) {
      // The first leader records 'started' when it writes the first progress.
      this.shared.start();
      return;
    }
    this.record('started', `from step ${String(this.step)}`);
    this.timer = setInterval(() => this.tick(), this.policy.interval_s * 1000);
    this.timer.unref();
  }

  /** Stops judging (and, shared, hands the lease over). */
  stop(): void {
    this.finish();
    this.shared?.stop();
  }

  /** Completed or rolled back: nothing left to judge here. Shared, the loop keeps following the store. */
  private finish(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One judgement of the current step's evidence, and what follows from it. */
  tick(): void {
    this.judgeEvidence(this.evidence.snapshot());
  }

  /** Judges `evidence` (this replica's own, or every replica's merged) and acts on the verdict. */
  judgeEvidence(evidence: EvidenceSnapshot): void {
    const { current: state, policy } = this;
    if (state.status === 'completed' || state.status === 'rolled_back') return;
    const judgement = judge(policy, this.step, evidence);
    state.lastJudgement = judgement;
    state.evidence = summarizeEvidence(evidence);
    this.deps.metrics.observeJudgement(this.model, policy.candidate, judgement);
    if (judgement.abort) {
      this.rollBack(`immediate abort: ${judgement.abort}`, judgement);
      return;
    }
    if (judgement.verdict === 'fail') {
      state.failures++;
      const failed = judgement.checks.filter((c) => c.verdict === 'fail');
      const why = failed.map((c) => `${c.check}${c.subject ? `(${c.subject})` : ''}: ${c.reason}`).join('; ');
      if (state.failures >= policy.failure_limit) {
        this.rollBack(`${state.failures} failed checks in a row: ${why}`, judgement);
      } else {
        this.record('held', `failed check ${state.failures} of ${policy.failure_limit}: ${why}`, judgement);
      }
      return;
    }
    if (judgement.verdict === 'inconclusive') {
      const open = judgement.checks.filter((c) => c.verdict === 'inconclusive');
      this.record(
        'held',
        `inconclusive: ${open.map((c) => `${c.check}${c.subject ? `(${c.subject})` : ''}: ${c.reason}`).join('; ')}`,
        judgement,
      );
      return;
    }
    state.failures = 0;
    if (state.waitingFor) return; // passing, but paused: the operator resumes
    this.advance(judgement);
  }

  private advance(judgement: Judgement | undefined): void {
    const { current: state, policy } = this;
    const next = state.stepIndex + 1;
    if (next >= policy.steps.length) {
      this.complete(judgement);
      return;
    }
    const upcoming = policy.steps[next]!;
    if (
      typeof upcoming === 'number' &&
      policy.pause_before.includes(upcoming) &&
      state.resumedInto !== upcoming
    ) {
      state.waitingFor = 'resume';
      state.status = 'paused';
      state.pendingPauseStep = upcoming;
      this.record('paused', `step ${String(this.step)} passed; step ${upcoming} waits for resume`, judgement);
      return;
    }
    state.stepIndex = next;
    state.stepStartedAt = this.now();
    state.failures = 0;
    this.evidence.reset();
    this.updateShare();
    this.record('advanced', `to step ${String(this.step)}`, judgement);
    // At 100% the baseline serves no one: there is nothing left to compare the candidate with,
    // so the step before was the last judged one and the rollout is complete.
    if (upcoming === 100 && next === policy.steps.length - 1) this.complete(undefined);
  }

  private complete(judgement: Judgement | undefined): void {
    const { current: state, policy } = this;
    state.status = 'completed';
    this.updateShare();
    this.finish();
    this.record(
      'completed',
      `the candidate ${policy.candidate} serves ${String(this.step)}% of ${policy.baseline}'s users; edit the file to match (switchyard rollout promote)`,
      judgement,
    );
  }

  pause(): boolean {
    const { current: state } = this;
    if (state.status !== 'running') return false;
    state.status = 'paused';
    state.waitingFor = 'resume';
    this.record('paused', `paused by an operator at step ${String(this.step)}`);
    return true;
  }

  resume(): boolean {
    const { current: state } = this;
    if (state.status !== 'paused') return false;
    state.status = 'running';
    state.waitingFor = null;
    const pending = state.pendingPauseStep;
    state.pendingPauseStep = null;
    this.record('resumed', pending === null ? 'by an operator' : `into step ${pending}`);
    if (pending !== null) {
      state.resumedInto = pending;
      this.advance(undefined);
    }
    return true;
  }

  abort(): boolean {
    const { status } = this.current;
    if (status === 'rolled_back' || status === 'completed') return false;
    this.rollBack('aborted by an operator', undefined);
    return true;
  }

  private rollBack(detail: string, judgement: Judgement | undefined): void {
    this.current.status = 'rolled_back';
    this.current.waitingFor = null;
    this.updateShare();
    this.finish();
    this.record('rolled_back', detail, judgement);
  }

  private updateShare(): void {
    const { status } = this.current;
    const step = this.step;
    this.currentShare = status === 'rolled_back' || step === 'shadow' ? 0 : step / 100;
    this.deps.metrics.setShare(this.model, this.policy.candidate, this.currentShare);
  }

  private record(event: RolloutEventKind, detail: string, judgement?: Judgement): void {
    const entry: RolloutEvent = {
      at: new Date(this.now()).toISOString(),
      model: this.model,
      event,
      step: this.step,
      detail,
      ...(judgement && event !== 'held' ? { judgement } : {}),
    };
    const history = this.current.events;
    const last = history.at(-1);
    // An unchanged hold is one entry, not one per interval.
    if (event === 'held' && last?.event === 'held' && last.detail === detail) {
      last.at = entry.at;
      return;
    }
    history.push(entry);
    if (history.length > HISTORY) history.shift();
    if (this.deferred) this.deferred.push(() => this.announce(entry, judgement));
    else this.announce(entry, judgement);
  }

  /** An event's log line, metric and notification. */
  private announce(entry: RolloutEvent, judgement: Judgement | undefined): void {
    const { event, detail } = entry;
    this.deps.metrics.event(this.model, event);
    const log = event === 'rolled_back' ? this.deps.logger.warn : this.deps.logger.info;
    log.call(
      this.deps.logger,
      {
        model: this.model,
        rollout_event: event,
        step: entry.step,
        candidate: this.policy.candidate,
        baseline: this.policy.baseline,
        detail,
        ...(judgement
          ? {
              checks: judgement.checks.map(({ check, subject, verdict, value, samples }) => ({
                check,
                subject,
                verdict,
                value,
                samples,
              })),
            }
          : {}),
      },
      `rollout ${event}`,
    );
    this.notify?.(entry);
  }

  /** The progress as a store keeps it (a copy). */
  progress(): RolloutProgress {
    return structuredClone(this.current);
  }

  /** Serves and shows `progress`, written by another replica (or this one's last write). */
  adopt(progress: RolloutProgress): void {
    const stepChanged = progress.stepIndex !== this.current.stepIndex;
    this.current = structuredClone(progress);
    if (stepChanged) this.evidence.reset();
    this.updateShare();
  }

  /** A first progress for the store: the rollout starts from its first step. */
  begin(): void {
    this.record('started', `from step ${String(this.step)}`);
  }

  /**
   * Runs `change` with the events it records held back: `commit` announces them once the store
   * took the result, `discard` restores the progress from before (the write lost a race).
   */
  change(change: () => boolean): { done: boolean; commit(): void; discard(): void } {
    const before = this.progress();
    const held: (() => void)[] = [];
    this.deferred = held;
    let done: boolean;
    try {
      done = change();
    } finally {
      this.deferred = undefined;
    }
    return {
      done,
      commit: () => {
        for (const announce of held) announce();
      },
      discard: () => this.adopt(before),
    };
  }

  /** An operator's pause, resume or abort: on the shared progress when there is one. */
  async act(action: 'pause' | 'resume' | 'abort'): Promise<boolean> {
    if (this.shared) return this.shared.act(action);
    return this[action]();
  }

  /** The rollout as the admin API shows it. */
  status(): object {
    const { current: state, policy } = this;
    return {
      model: this.model,
      candidate: policy.candidate,
      baseline: policy.baseline,
      status: state.status,
      leader: this.shared ? this.shared.leader : true,
      shared: this.shared?.describe() ?? null,
      waiting_for: state.waitingFor,
      steps: policy.steps,
      step: this.step,
      step_index: state.stepIndex,
      step_started_at: new Date(state.stepStartedAt).toISOString(),
      candidate_share_percent: this.currentShare * 100,
      mirror_percent: this.mirrorPercent(),
      failures_in_a_row: state.failures,
      failure_limit: policy.failure_limit,
      interval_s: policy.interval_s,
      last_judgement: state.lastJudgement,
      evidence: this.shared ? state.evidence : summarizeEvidence(this.evidence.snapshot()),
      events: state.events,
    };
  }
}
