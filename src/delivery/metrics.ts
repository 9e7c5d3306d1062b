import { Counter, Gauge, type Registry } from 'prom-client';
import { createDriftMetrics, type DriftMetrics } from '../drift/metrics.js';
import type { Judgement } from './judge.js';

/** Verdicts as gauge values: a dashboard colours them, an alert fires on -1. */
const VERDICT_VALUE = { pass: 1, inconclusive: 0, fail: -1 } as const;

/**
 * `drift` owns switchyard_drift_psi, which the drift tracker writes too (src/drift/metrics.ts);
 * the gateway passes the one it shares, a test of rollouts alone may leave it out.
 */
export function createDeliveryMetrics(
  registry: Registry,
  drift: DriftMetrics = createDriftMetrics(registry),
) {
  const events = new Counter({
    name: 'switchyard_rollout_events_total',
    help: 'Rollout decisions by model and event (started | advanced | held | paused | resumed | rolled_back | completed).',
    labelNames: ['model', 'event'] as const,
    registers: [registry],
  });
  const share = new Gauge({
    name: 'switchyard_rollout_candidate_share_ratio',
    help: "The share of the baseline's users the rollout's candidate serves now (0..1).",
    labelNames: ['model', 'variant'] as const,
    registers: [registry],
  });
  const verdicts = new Gauge({
    name: 'switchyard_rollout_check_verdict',
    help: "Each rollout check's latest verdict: 1 pass, 0 inconclusive, -1 fail.",
    labelNames: ['model', 'check', 'subject'] as const,
    registers: [registry],
  });
  return {
    event(model: string, event: string): void {
      events.inc({ model, event });
    },
    setShare(model: string, variant: string, ratio: number): void {
      share.set({ model, variant }, ratio);
    },
    observeJudgement(model: string, candidate: string, judgement: Judgement): void {
      for (const check of judgement.checks) {
        verdicts.set(
          { model, check: check.check, subject: check.subject ?? '' },
          VERDICT_VALUE[check.verdict],
        );
        if (check.check === 'drift_psi' && check.value !== null)
          drift.setPsi(model, candidate, check.subject ?? 'score', 'baseline', check.value);
      }
    },
  };
}

export type DeliveryMetrics = ReturnType<typeof createDeliveryMetrics>;
