/** What `switchyard log stats --model M` reports, from the records of one model. */
export interface ModelLogStats {
  model: string;
  /** Prediction records of the model. */
  requests: number;
  /** Per assigned variant (as in metrics and /admin/stats); requests refused before routing are under "-". */
  variants: VariantStats[];
  fallbacks: FallbackStats[];
  shadows: ShadowPairStats[];
}

export interface FallbackStats {
  variant: string;
  kind: string;
  reason: string;
  /** The variant whose answer (live or cached) was given; `default` for a default decision, which no model gave. */
  answered_by: string;
  count: number;
}

export interface VariantStats {
  variant: string;
  requests: number;
  /** Answered with status 200 (a fallback's answer included). */
  ok: number;
  errors: number;
  fallbacks: number;
  /** Decisions given by the decision endpoint, by decision. */
  decisions: Record<string, number>;
}

export interface ShadowPairStats {
  variant: string;
  shadow: string;
  /** Shadow records: every copy mirrored or dropped. */
  mirrored: number;
  compared: number;
  agree: number;
  disagree: number;
  agreement_rate: number | null;
  mean_score_delta: number | null;
  errors: number;
  dropped: number;
  not_comparable: number;
  /** Compared copies whose prediction record was found by request_id. */
  joined: number;
  /** For joined copies: the primary's decision → the shadow's, where they differ. */
  changes: { from: string; to: string; count: number }[];
}

interface PendingShadow {
  requestId: string;
  key: string;
  decision: string | null;
}

/** Folds records (any order, any model) into one model's stats; shadow records join predictions by request_id. */
export class LogStatsBuilder {
  private readonly variants = new Map<string, VariantStats>();
  private readonly fallbacks = new Map<string, FallbackStats>();
  private readonly pairs = new Map<string, ShadowPairStats & { deltaSum: number }>();
  private readonly decisionsById = new Map<string, string | null>();
  private readonly pending: PendingShadow[] = [];
  private requests = 0;

  constructor(private readonly model: string) {}

  add(record: Record<string, unknown>): void {
    if (record.model !== this.model) return;
    if (record.kind === 'prediction') this.addPrediction(record);
    else if (record.kind === 'shadow') this.addShadow(record);
  }

  private addPrediction(record: Record<string, unknown>): void {
    this.requests++;
    const variant = typeof record.variant === 'string' ? record.variant : '-';
    let stats = this.variants.get(variant);
    if (!stats) {
      stats = { variant, requests: 0, ok: 0, errors: 0, fallbacks: 0, decisions: {} };
      this.variants.set(variant, stats);
    }
    stats.requests++;
    if (record.status === 200) stats.ok++;
    else stats.errors++;
    const decision = typeof record.decision === 'string' ? record.decision : null;
    if (decision !== null) stats.decisions[decision] = (stats.decisions[decision] ?? 0) + 1;
    const fallback = record.fallback as { kind?: unknown; reason?: unknown; variant?: unknown } | null;
    if (fallback && typeof fallback === 'object') {
      stats.fallbacks++;
      const kind = String(fallback.kind);
      const reason = String(fallback.reason);
      // A default decision names no variant (records before it did named the assigned one, which
      // did not answer): it is answered by the default, whatever the record says.
      const answeredBy =
        kind === 'default' ? 'default' : typeof fallback.variant === 'string' ? fallback.variant : '-';
      const key = `${variant}\0${kind}\0${reason}\0${answeredBy}`;
      const entry = this.fallbacks.get(key) ?? { variant, kind, reason, answered_by: answeredBy, count: 0 };
      entry.count++;
      this.fallbacks.set(key, entry);
    }
    if (typeof record.request_id === 'string') this.decisionsById.set(record.request_id, decision);
  }

  private addShadow(record: Record<string, unknown>): void {
    const variant = String(record.variant);
    const shadow = String(record.shadow);
    const key = `${variant}\0${shadow}`;
    let pair = this.pairs.get(key);
    if (!pair) {
      pair = {
        variant,
        shadow,
        mirrored: 0,
        compared: 0,
        agree: 0,
        disagree: 0,
        agreement_rate: null,
        mean_score_delta: null,
        errors: 0,
        dropped: 0,
        not_comparable: 0,
        joined: 0,
        changes: [],
        deltaSum: 0,
      };
      this.pairs.set(key, pair);
    }
    pair.mirrored++;
    switch (record.outcome) {
      case 'compared':
        pair.compared++;
        if (record.agree === true) pair.agree++;
        else pair.disagree++;
        if (typeof record.score_delta === 'number') pair.deltaSum += record.score_delta;
        if (typeof record.request_id === 'string') {
          this.pending.push({
            requestId: record.request_id,
            key,
            decision: typeof record.shadow_decision === 'string' ? record.shadow_decision : null,
          });
        }
        break;
      case 'error':
        pair.errors++;
        break;
      case 'dropped':
        pair.dropped++;
        break;
      default:
        pair.not_comparable++;
    }
  }

  build(): ModelLogStats {
    const changes = new Map<string, Map<string, number>>();
    for (const shadow of this.pending) {
      if (!this.decisionsById.has(shadow.requestId)) continue;
      const pair = this.pairs.get(shadow.key)!;
      pair.joined++;
      const primary = this.decisionsById.get(shadow.requestId);
      if (primary == null || shadow.decision === null || primary === shadow.decision) continue;
      const byChange = changes.get(shadow.key) ?? new Map<string, number>();
      const change = `${primary}\0${shadow.decision}`;
      byChange.set(change, (byChange.get(change) ?? 0) + 1);
      changes.set(shadow.key, byChange);
    }
    const byName = <T extends { variant: string }>(a: T, b: T) => a.variant.localeCompare(b.variant);
    return {
      model: this.model,
      requests: this.requests,
      variants: [...this.variants.values()].sort(byName),
      fallbacks: [...this.fallbacks.values()].sort((a, b) => byName(a, b) || b.count - a.count),
      shadows: [...this.pairs.entries()]
        .map(([key, { deltaSum, ...pair }]) => ({
          ...pair,
          agreement_rate: pair.compared ? pair.agree / pair.compared : null,
          mean_score_delta: pair.compared ? deltaSum / pair.compared : null,
          changes: [...(changes.get(key) ?? [])]
            .map(([change, count]) => {
              const [from, to] = change.split('\0') as [string, string];
              return { from, to, count };
            })
            .sort((a, b) => b.count - a.count),
        }))
        .sort((a, b) => byName(a, b) || a.shadow.localeCompare(b.shadow)),
    };
  }
}
