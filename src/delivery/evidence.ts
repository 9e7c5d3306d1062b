import type { ContractConfig } from '../contract/config.js';
import { decide } from '../contract/features.js';
import type { Finished } from '../pipeline/stage.js';
import type { InferRequest, InferResponse } from '../shared/oip.js';
import { FixedBins } from './bins.js';
import { Reservoir } from './reservoir.js';
import type { EvidenceSummary } from './store.js';
import type { Moments, Proportion } from './statistics.js';

/** Latency samples kept per side and step: enough for a p99 with a usable interval, bounded memory. */
export const LATENCY_SAMPLES = 4096;
/** Equal-width bins per feature and for the score, for PSI. */
export const DRIFT_BINS = 10;

/** What one side (baseline or candidate) of a rollout has shown since its step began. */
export interface SideEvidence {
  /** Requests the side was assigned, and how they ended. */
  requests: number;
  errors: number;
  fallbacks: number;
  latencyMs: Reservoir;
  /** Rows scored, by the decision each score leads to (models with a contract). */
  decisions: Map<string, number>;
  scored: number;
  /** Histograms over fixed bins: the score, then each binned contract feature, in `driftFeatures` order. */
  drift: Int32Array[];
}

/** Mirrored copies to the candidate: did it decide like the baseline on the same request? */
export interface ComparisonEvidence {
  compared: number;
  agreed: number;
  /** |baseline score − candidate score|. */
  delta: Moments;
  /** Copies the candidate failed to answer. */
  errors: number;
  sent: number;
  /** The candidate's scores on the copies, over the score's bins (its drift in the shadow step). */
  shadowScores: Int32Array | undefined;
}

/** How a mirrored copy went (the shadow stage's report, the fields read here). */
export interface ComparisonReport {
  outcome: 'compared' | 'error' | 'dropped' | 'not_comparable';
  comparison?: { disagree: boolean; delta: number; shadowScore: number };
}

/** The evidence a verdict is computed from, copied out of the collector at one moment. */
export interface EvidenceSnapshot {
  baseline: SideSnapshot;
  candidate: SideSnapshot;
  comparison: ComparisonEvidence;
  /** The names of `drift` histograms: 'score', then features. */
  driftNames: readonly string[];
}

export interface SideSnapshot {
  requests: number;
  errors: Proportion;
  fallbacks: Proportion;
  latencyMs: Float64Array;
  decisions: Record<string, Proportion>;
  drift: Int32Array[];
  scored: number;
}

/**
 * Collects a rollout's evidence per side, on the request path: a few counters, one reservoir
 * insert and a bin index per feature and score, no allocation (the request's own values are read
 * in place). `reset` starts a new step's evidence.
 */
export class EvidenceCollector {
  private sides: { baseline: SideEvidence; candidate: SideEvidence };
  private comparison: ComparisonEvidence;
  private readonly featureColumns: { column: number; bins: FixedBins }[];
  private readonly scoreBins = new FixedBins(0, 1, DRIFT_BINS);
  readonly driftNames: readonly string[];

  constructor(
    private readonly names: { baseline: string; candidate: string },
    private readonly contract: ContractConfig | undefined,
    private readonly random: () => number = Math.random,
  ) {
    // Features without both bounds have no fixed bins to share between the two sides: not binned.
    this.featureColumns = (contract?.features ?? []).flatMap((feature, column) =>
      feature.min !== undefined && feature.max !== undefined && feature.max > feature.min
        ? [{ column, bins: new FixedBins(feature.min, feature.max, DRIFT_BINS) }]
        : [],
    );
    this.driftNames = contract
      ? ['score', ...this.featureColumns.map(({ column }) => contract.features[column]!.name)]
      : [];
    this.sides = { baseline: this.side(), candidate: this.side() };
    this.comparison = this.emptyComparison();
  }

  private side(): SideEvidence {
    return {
      requests: 0,
      errors: 0,
      fallbacks: 0,
      latencyMs: new Reservoir(LATENCY_SAMPLES, this.random),
      decisions: new Map(),
      scored: 0,
      drift: this.driftNames.map((_, i) => new Int32Array(i === 0 ? this.scoreBins.count : DRIFT_BINS)),
    };
  }

  /** The after-phase's record of an answered request routed to either side. */
  recordAnswer({ ctx, reply, response, finishedAt }: Finished): void {
    const name = ctx.variant?.name;
    const side =
      name === this.names.candidate
        ? this.sides.candidate
        : name === this.names.baseline
          ? this.sides.baseline
          : undefined;
    if (!side) return;
    side.requests++;
    if (!reply.ok) {
      // A request the caller got wrong (4xx) says nothing of the variant.
      if (response.status >= 500) side.errors++;
      else side.requests--;
      return;
    }
    if (reply.fallback) {
      side.fallbacks++;
      return;
    }
    side.latencyMs.add(finishedAt - ctx.receivedAt);
    if (this.contract && reply.response) this.recordRows(side, ctx.inference, reply.response);
  }

  private recordRows(side: SideEvidence, request: InferRequest | undefined, response: InferResponse): void {
    const contract = this.contract!;
    const scores = response.outputs.find((o) => o.name === contract.output)?.data;
    if (!scores) return;
    const rows = scores.length;
    const input = request?.inputs.find((i) => i.name === contract.input)?.data;
    const width = contract.features.length;
    for (let row = 0; row < rows; row++) {
      const score = scores[row];
      if (typeof score !== 'number') continue;
      side.scored++;
      const decision = decide(contract, score).decision;
      side.decisions.set(decision, (side.decisions.get(decision) ?? 0) + 1);
      const scoreBin = this.scoreBins.index(score);
      if (scoreBin >= 0) side.drift[0]![scoreBin]!++;
      if (!input) continue;
      for (let f = 0; f < this.featureColumns.length; f++) {
        const { column, bins } = this.featureColumns[f]!;
        const value = input[row * width + column];
        if (typeof value !== 'number') continue;
        const bin = bins.index(value);
        if (bin >= 0) side.drift[f + 1]![bin]!++;
      }
    }
  }

  /** A mirrored copy of a baseline request to the candidate, once it settled. */
  recordComparison(report: ComparisonReport): void {
    const c = this.comparison;
    if (report.outcome === 'dropped') return;
    c.sent++;
    if (report.outcome === 'error') {
      c.errors++;
      return;
    }
    const { comparison } = report;
    if (report.outcome !== 'compared' || !comparison) return;
    c.compared++;
    if (!comparison.disagree) c.agreed++;
    c.delta.n++;
    c.delta.sum += comparison.delta;
    c.delta.sumOfSquares += comparison.delta * comparison.delta;
    if (c.shadowScores) {
      const bin = this.scoreBins.index(comparison.shadowScore);
      if (bin >= 0) c.shadowScores[bin]!++;
    }
  }

  snapshot(): EvidenceSnapshot {
    return {
      baseline: snapshotOf(this.sides.baseline),
      candidate: snapshotOf(this.sides.candidate),
      comparison: {
        ...this.comparison,
        delta: { ...this.comparison.delta },
        shadowScores: this.comparison.shadowScores?.slice(),
      },
      driftNames: this.driftNames,
    };
  }

  /**
   * What was collected since the last drain, and a fresh start: a replica hands its evidence over
   * to the shared store this way, and the request path keeps recording into the new sides.
   */
  drain(): EvidenceSnapshot {
    const taken = this.snapshot();
    this.reset();
    return taken;
  }

  /** A new step: what the previous one showed no longer counts. */
  reset(): void {
    this.sides = { baseline: this.side(), candidate: this.side() };
    this.comparison = this.emptyComparison();
  }

  private emptyComparison(): ComparisonEvidence {
    return {
      compared: 0,
      agreed: 0,
      delta: { n: 0, sum: 0, sumOfSquares: 0 },
      errors: 0,
      sent: 0,
      shadowScores: this.contract ? new Int32Array(this.scoreBins.count) : undefined,
    };
  }
}

function snapshotOf(side: SideEvidence): SideSnapshot {
  const decisions: Record<string, Proportion> = {};
  for (const [decision, count] of side.decisions) decisions[decision] = { events: count, total: side.scored };
  return {
    requests: side.requests,
    errors: { events: side.errors, total: side.requests },
    fallbacks: { events: side.fallbacks, total: side.requests },
    latencyMs: side.latencyMs.values(),
    decisions,
    drift: side.drift.map((h) => h.slice()),
    scored: side.scored,
  };
}

/** The counts of a snapshot, as the admin API shows them. */
export function summarizeEvidence(evidence: EvidenceSnapshot): EvidenceSummary {
  const { baseline, candidate, comparison } = evidence;
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
