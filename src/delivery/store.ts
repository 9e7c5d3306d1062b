import { createHash } from 'node:crypto';
import type { ContractConfig } from '../contract/config.js';
import type { RolloutPolicy } from './config.js';
import type { EvidenceSnapshot } from './evidence.js';
import type { Judgement } from './judge.js';

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

/**
 * Where a rollout is: everything a replica needs to serve the same step and a new leader needs to
 * continue it. Plain JSON, so a store can keep it as one value.
 */
export interface RolloutProgress {
  status: RolloutStatus;
  stepIndex: number;
  /** Date.now() (of the replica that started it) when the current step began. */
  stepStartedAt: number;
  /** Failed judgements in a row; failure_limit of them roll back. */
  failures: number;
  /** Waiting for `resume`: an operator's pause, or a step of pause_before about to begin. */
  waitingFor: 'resume' | null;
  /** A step of pause_before waiting for resume, and the last one resumed into. */
  pendingPauseStep: number | null;
  resumedInto: number | null;
  lastJudgement: Judgement | null;
  /** The counts the last judgement saw, as the admin API shows them. */
  evidence: EvidenceSummary | null;
  events: RolloutEvent[];
}

export interface EvidenceSummary {
  baseline: SideSummary;
  candidate: SideSummary;
  mirrored: { sent: number; compared: number; agreed: number; errors: number };
}

interface SideSummary {
  requests: number;
  errors: number;
  fallbacks: number;
  scored: number;
}

export interface StoredProgress {
  /** Bumped by every write: a write names the version it read, so concurrent writers never both win. */
  version: number;
  progress: RolloutProgress;
}

/** What one interval's round trip brought back. */
export interface Exchange {
  /** This replica holds the lease: it judges and writes the progress. */
  leader: boolean;
  /** The shared progress; undefined before the first leader wrote any. */
  stored: StoredProgress | undefined;
}

/**
 * Where replicas of a rollout meet (Redis; an in-memory one for a single process's tests). The
 * controller keeps its logic; the store only moves evidence, the lease and the progress.
 */
export interface RolloutStore {
  /**
   * One round trip per interval: adds this replica's evidence since the last exchange (taken at
   * `stepIndex`) to the step's shared evidence, takes or renews the lease, reads the progress.
   */
  exchange(
    delta: { stepIndex: number; evidence: EvidenceSnapshot } | undefined,
    leader: boolean,
  ): Promise<Exchange>;
  /** Every replica's evidence of a step, merged: what the leader judges. */
  evidence(stepIndex: number): Promise<EvidenceSnapshot>;
  read(): Promise<StoredProgress | undefined>;
  /**
   * Writes the progress if the stored version is still `version` and, for a leader's write, this
   * replica still holds the lease; false when either changed (the next exchange reads the winner).
   */
  write(progress: RolloutProgress, version: number, asLeader: boolean): Promise<boolean>;
  /** Gives the lease up, if held (a clean shutdown hands over at once instead of after the TTL). */
  release(): Promise<void>;
  /** The lease's time to live: a leader that stops renewing is replaced after it. */
  readonly leaseMs: number;
}

/** Builds a model's store; the policy's hash keys it, so a changed policy starts afresh. */
export type RolloutStoreFactory = (
  model: string,
  policy: RolloutPolicy,
  contract: ContractConfig | undefined,
  shape: EvidenceShape,
) => RolloutStore;

/** What a merged snapshot needs to be rebuilt: the drift histograms' names (bins are fixed per name). */
export interface EvidenceShape {
  driftNames: readonly string[];
  /** Whether mirrored copies' scores are binned (models with a contract). */
  binsShadowScores: boolean;
}

/** A short, stable hash of the policy and the contract its evidence is binned by. */
export function policyHash(policy: RolloutPolicy, contract: ContractConfig | undefined): string {
  return createHash('sha256')
    .update(stableJson({ policy, contract: contract ?? null }))
    .digest('hex')
    .slice(0, 16);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The lease's time to live: about three intervals, at least a second. */
export function leaseMsFor(policy: RolloutPolicy): number {
  return Math.max(1000, Math.round(policy.interval_s * 3000));
}
