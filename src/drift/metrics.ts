import { Gauge, type Registry } from 'prom-client';

/**
 * What `against` says a PSI was measured against. Two parts of the gateway measure drift: the
 * drift tracker (a variant's last window against the model's reference, any time) and a
 * rollout's judgement (its candidate against its baseline variant, at each judgement). Both
 * write the same gauge for the candidate while a rollout runs, so the label keeps the two
 * series apart instead of letting them overwrite each other every few seconds.
 */
export type DriftAgainst = 'reference' | 'baseline';

/** The drift gauges; the rollout's metrics write theirs through `setPsi` too. */
export function createDriftMetrics(registry: Registry) {
  const psi = new Gauge({
    name: 'switchyard_drift_psi',
    help:
      'Population stability index of a variant\'s score (feature="score") or a contract feature: against="reference", ' +
      'its last window against the model\'s reference (the drift tracker); against="baseline", a rollout\'s candidate ' +
      'against its baseline at the last judgement.',
    labelNames: ['model', 'variant', 'feature', 'against'] as const,
    registers: [registry],
  });
  const windowRows = new Gauge({
    name: 'switchyard_drift_window_rows',
    help: "Rows scored by a variant in the drift tracker's last window (a PSI needs drift.min_samples of them).",
    labelNames: ['model', 'variant'] as const,
    registers: [registry],
  });
  return {
    setPsi(model: string, variant: string, feature: string, against: DriftAgainst, value: number): void {
      psi.set({ model, variant, feature, against }, value);
    },
    /** A window too thin to say anything: no value rather than the last one, which would go stale. */
    clearPsi(model: string, variant: string, feature: string, against: DriftAgainst): void {
      psi.remove({ model, variant, feature, against });
    },
    setWindowRows(model: string, variant: string, rows: number): void {
      windowRows.set({ model, variant }, rows);
    },
    clearWindowRows(model: string, variant: string): void {
      windowRows.remove({ model, variant });
    },
  };
}

export type DriftMetrics = ReturnType<typeof createDriftMetrics>;
