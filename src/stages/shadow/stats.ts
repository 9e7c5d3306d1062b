/** Live comparison counts of one primary variant against one shadow, for the admin stats. */
export interface PairStats {
  sent: number;
  dropped: number;
  errors: number;
  compared: number;
  disagreements: number;
  deltaSum: number;
}

/** One (primary, shadow) row of GET /admin/stats. */
export interface ShadowPairReport {
  primary: string;
  shadow: string;
  sent: number;
  dropped: number;
  errors: number;
  compared: number;
  agreement_rate: number | null;
  disagreement_rate: number | null;
  mean_score_delta: number | null;
}

/** Per model, for the life of the process (a reload keeps the counts). */
export class ShadowStats {
  private readonly pairs = new Map<string, PairStats>();
  /** Mirrored calls in flight for this model, capped by shadow_max_concurrency. */
  inFlight = 0;

  pair(primary: string, shadow: string): PairStats {
    const key = `${primary}\u0000${shadow}`;
    let stats = this.pairs.get(key);
    if (!stats)
      this.pairs.set(
        key,
        (stats = { sent: 0, dropped: 0, errors: 0, compared: 0, disagreements: 0, deltaSum: 0 }),
      );
    return stats;
  }

  report(): ShadowPairReport[] {
    return [...this.pairs].map(([key, s]) => {
      const [primary, shadow] = key.split('\u0000') as [string, string];
      return {
        primary,
        shadow,
        sent: s.sent,
        dropped: s.dropped,
        errors: s.errors,
        compared: s.compared,
        agreement_rate: s.compared ? 1 - s.disagreements / s.compared : null,
        disagreement_rate: s.compared ? s.disagreements / s.compared : null,
        mean_score_delta: s.compared ? s.deltaSum / s.compared : null,
      };
    });
  }
}
