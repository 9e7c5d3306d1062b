import type { RolloutPolicy } from './config.js';
import type { EvidenceSnapshot } from './evidence.js';
import {
  failingOutright,
  meanAtMostCheck,
  p99RatioCheck,
  proportionAtLeastCheck,
  psiAtMostCheck,
  rateChangeCheck,
  rateIncreaseCheck,
  type CheckResult,
  type Verdict,
} from './statistics.js';

export type CheckName =
  | 'error_rate'
  | 'latency_p99'
  | 'fallback_rate'
  | 'agreement'
  | 'score_delta'
  | 'drift_psi'
  | 'decision_rate';

export interface NamedCheck extends CheckResult {
  check: CheckName;
  /** For drift: which histogram ('score' or a feature). */
  subject?: string;
}

export interface Judgement {
  /** pass: every check passed; fail: one failed; inconclusive: none failed, one could not say. */
  verdict: Verdict;
  checks: NamedCheck[];
  /** Set when the candidate is failing so plainly that no min_samples is waited for. */
  abort?: string;
}

/**
 * Judges one step's evidence against the policy. In the shadow step no caller is served by the
 * candidate, so only what the mirrored copies show is judged: agreement, score delta, the score's
 * drift and the copies' own failures. Canary steps judge every check the policy names.
 */
export function judge(policy: RolloutPolicy, step: 'shadow' | number, evidence: EvidenceSnapshot): Judgement {
  const { criteria, min_samples: minSamples } = policy;
  const { baseline, candidate, comparison } = evidence;
  const checks: NamedCheck[] = [];
  const canary = step !== 'shadow';

  const copies = { events: comparison.errors, total: comparison.sent };
  if (failingOutright(copies)) {
    return {
      verdict: 'fail',
      checks,
      abort: `the candidate failed ${comparison.errors} of ${comparison.sent} mirrored copies`,
    };
  }
  // A request the candidate failed is an error, or a fallback when the chain caught it.
  const failed = { events: candidate.errors.events + candidate.fallbacks.events, total: candidate.requests };
  if (canary && failingOutright(failed)) {
    return {
      verdict: 'fail',
      checks,
      abort: `the candidate failed ${failed.events} of ${failed.total} requests (errors and fallbacks)`,
    };
  }

  if (canary && criteria.error_rate)
    checks.push({
      check: 'error_rate',
      ...rateIncreaseCheck(candidate.errors, baseline.errors, criteria.error_rate.max_increase, minSamples),
    });
  if (!canary && criteria.error_rate)
    // The copies' failures against the baseline's own errors: a shadow that cannot answer is judged too.
    checks.push({
      check: 'error_rate',
      ...rateIncreaseCheck(copies, baseline.errors, criteria.error_rate.max_increase, minSamples),
    });
  if (canary && criteria.latency_p99)
    checks.push({
      check: 'latency_p99',
      ...p99RatioCheck(candidate.latencyMs, baseline.latencyMs, criteria.latency_p99.max_ratio, minSamples),
    });
  if (canary && criteria.fallback_rate)
    checks.push({
      check: 'fallback_rate',
      ...rateIncreaseCheck(
        candidate.fallbacks,
        baseline.fallbacks,
        criteria.fallback_rate.max_increase,
        minSamples,
      ),
    });
  if (criteria.agreement)
    checks.push({
      check: 'agreement',
      ...proportionAtLeastCheck(
        { events: comparison.agreed, total: comparison.compared },
        criteria.agreement.min,
        minSamples,
      ),
    });
  if (criteria.score_delta)
    checks.push({
      check: 'score_delta',
      ...meanAtMostCheck(comparison.delta, criteria.score_delta.max_mean_abs, minSamples),
    });
  if (criteria.drift_psi) {
    // The shadow step compares scores on the same inputs (features cannot differ); canary steps
    // compare each side's own traffic, features included.
    const names = canary ? evidence.driftNames : evidence.driftNames.slice(0, 1);
    const shadowScores = canary ? undefined : evidence.comparison.shadowScores;
    names.forEach((name, i) => {
      const c = shadowScores ?? candidate.drift[i]!;
      checks.push({
        check: 'drift_psi',
        subject: name,
        ...psiAtMostCheck(c, baseline.drift[i]!, criteria.drift_psi!.max, minSamples),
      });
    });
  }
  if (canary && criteria.decision_rate) {
    const { decision, max_change: maxChange } = criteria.decision_rate;
    const rate = (side: typeof candidate) => side.decisions[decision] ?? { events: 0, total: side.scored };
    checks.push({
      check: 'decision_rate',
      subject: decision,
      ...rateChangeCheck(rate(candidate), rate(baseline), maxChange, minSamples),
    });
  }

  const verdict: Verdict = checks.some((c) => c.verdict === 'fail')
    ? 'fail'
    : checks.every((c) => c.verdict === 'pass')
      ? 'pass'
      : 'inconclusive';
  return { verdict, checks };
}
