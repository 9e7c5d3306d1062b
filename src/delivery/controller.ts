import type { ContractConfig } from '../contract/config.js';
import type { Logger } from '../shared/logger.js';
import type { RolloutPolicy } from './config.js';
import { EvidenceCollector } from './evidence.js';
import { judge, type Judgement } from './judge.js';
import type { DeliveryMetrics } from './metrics.js';
import { createNotifier, type Notifier } from './notify.js';

export type RolloutStatus = 'running' | 'paused' | 'completed' | 'rolled_back';
export type RolloutEventKind =
  'started' | 'advanced' | 'held' | 'paused' | 'resumed' | 'rolled_back' | 'completed';

export interface RolloutEvent {
  /** ISO 8601. */
  at: string;
  model: string;
  event: RolloutEventKind;
  /** The step in force when it happened. */
  step: 'shadow' | number;
  detail: string;
  judgement?: Judgement;
}

/** The state a rollout's controller keeps; the admin API shows it as it is. */
export interface RolloutState {
  status: RolloutStatus;
  stepIndex: number;
  /** Date.now() when the current step began. */
  stepStartedAt: number;
  /** Failed judgements in a row; failure_limit of them roll back. */
  failures: number;
  /** Waiting for `resume`: an operator's pause, or a step of pause_before about to begin. */
  waitingFor: 'resume' | undefined;
  lastJudgement: Judgement | undefined;
}

/** Events kept per rollout for the admin API; older ones are in the logs. */
const HISTORY = 200;

export interface ControllerDeps {
  logger: Logger;
  metrics: DeliveryMetrics;
  now?: () => number;
  random?: () => number;
}

/**
 * Runs one model's rollout from its policy: every `interval_s` it judges the step's evidence and
 * advances, holds, pauses or rolls back. The file stays the desired state; what the controller
 * changes is the candidate's share of the baseline's users (`share`) and whether baseline traffic
 * is mirrored to the candidate (`mirrorPercent`), both read by the request path.
 */
export class RolloutController {
  readonly evidence: EvidenceCollector;
  private readonly current: RolloutState;
  private readonly history: RolloutEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private readonly now: () => number;
  private readonly notify: Notifier | undefined;
  /** Read per request: kept as a plain number, recomputed on every transition. */
  private currentShare = 0;

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
      waitingFor: undefined,
      lastJudgement: undefined,
    };
    this.notify = policy.notify ? createNotifier(policy.notify, deps.logger) : undefined;
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
    this.record('started', `from step ${String(this.step)}`);
    this.timer = setInterval(() => this.tick(), this.policy.interval_s * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One judgement of the current step's evidence, and what follows from it. */
  tick(): void {
    const { current: state, policy } = this;
    if (state.status === 'completed' || state.status === 'rolled_back') return;
    const judgement = judge(policy, this.step, this.evidence.snapshot());
    state.lastJudgement = judgement;
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
      this.resumedInto !== upcoming
    ) {
      state.waitingFor = 'resume';
      state.status = 'paused';
      this.pendingPauseStep = upcoming;
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
    this.stop();
    this.record(
      'completed',
      `the candidate ${policy.candidate} serves ${String(this.step)}% of ${policy.baseline}'s users; edit the file to match (switchyard rollout promote)`,
      judgement,
    );
  }

  /** A step of pause_before waiting for resume, and the last one resumed into. */
  private pendingPauseStep: number | undefined;
  private resumedInto: number | undefined;

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
    state.waitingFor = undefined;
    const pending = this.pendingPauseStep;
    this.pendingPauseStep = undefined;
    this.record('resumed', pending === undefined ? 'by an operator' : `into step ${pending}`);
    if (pending !== undefined) {
      this.resumedInto = pending;
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
    this.current.waitingFor = undefined;
    this.updateShare();
    this.stop();
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
    const last = this.history.at(-1);
    // An unchanged hold is one entry, not one per interval.
    if (event === 'held' && last?.event === 'held' && last.detail === detail) {
      last.at = entry.at;
      return;
    }
    this.history.push(entry);
    if (this.history.length > HISTORY) this.history.shift();
    this.deps.metrics.event(this.model, event);
    const log = event === 'rolled_back' ? this.deps.logger.warn : this.deps.logger.info;
    log.call(
      this.deps.logger,
      {
        model: this.model,
        rollout_event: event,
        step: this.step,
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

  /** The rollout as the admin API shows it. */
  status(): object {
    const { current: state, policy } = this;
    return {
      model: this.model,
      candidate: policy.candidate,
      baseline: policy.baseline,
      status: state.status,
      waiting_for: state.waitingFor ?? null,
      steps: policy.steps,
      step: this.step,
      step_index: state.stepIndex,
      step_started_at: new Date(state.stepStartedAt).toISOString(),
      candidate_share_percent: this.currentShare * 100,
      mirror_percent: this.mirrorPercent(),
      failures_in_a_row: state.failures,
      failure_limit: policy.failure_limit,
      interval_s: policy.interval_s,
      last_judgement: state.lastJudgement ?? null,
      evidence: summarize(this.evidence),
      events: this.history,
    };
  }
}

function summarize(evidence: EvidenceCollector): object {
  const { baseline, candidate, comparison } = evidence.snapshot();
  const side = (s: typeof baseline) => ({
    requests: s.requests,
    errors: s.errors.events,
    fallbacks: s.fallbacks.events,
    scored: s.scored,
  });
  return {
    baseline: side(baseline),
    candidate: side(candidate),
    mirrored: {
      sent: comparison.sent,
      compared: comparison.compared,
      agreed: comparison.agreed,
      errors: comparison.errors,
    },
  };
}
