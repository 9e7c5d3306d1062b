/**
 * The admin API's answers as the console reads them (README, "Endpoints"). Only the fields the
 * page uses; the gateway's own types are in src/http/admin.ts, src/console/overview.ts and
 * src/delivery/controller.ts.
 */

export interface ApiError {
  error: { code: string; message: string; problems?: { path: string; message: string }[] };
}

export interface ConfigView {
  hash: string;
  source: string;
  loaded_at: string;
  last_reload: {
    at: string;
    outcome: 'ok' | 'invalid' | 'error';
    config: string | null;
    problems: { path: string; message: string }[];
    error: string | null;
  } | null;
}

export interface VariantView {
  name: string;
  version: string;
  upstream: string;
  weight: number;
  effective_weight: number;
  breaker: string;
  last_minute: {
    requests: number;
    split_percent: number | null;
    errors: number;
    error_rate: number | null;
    fallbacks: number;
    p99_ms: number | null;
  };
}

export interface SeriesView {
  t: number[];
  variants: Record<string, { rps: number[]; error_rate: (number | null)[]; p99_ms: (number | null)[] }>;
}

export interface ShadowView {
  primary: string;
  shadow: string;
  sent: number;
  dropped: number;
  errors: number;
  compared: number;
  agreement_rate: number | null;
  mean_score_delta: number | null;
}

export interface ModelView {
  variants: VariantView[];
  series: SeriesView;
  shadows: ShadowView[];
  drift: {
    threshold: number;
    threshold_source: 'rollout' | 'default';
    psi: { variant: string; feature: string; against: string | null; psi: number }[];
  };
  fallbacks: { variant: string; kind: string; reason: string; last_minute: number; total: number }[];
  admission: {
    in_flight: number;
    queued: number;
    shed: { priority: string; reason: string; last_minute: number; total: number }[];
    rate_limited: { limit: string; last_minute: number; total: number }[];
  };
}

export interface ModelsView {
  config: string;
  at: string;
  window_s: number;
  sample_s: number;
  models: Record<string, ModelView>;
}

export interface CheckView {
  check: string;
  subject?: string;
  verdict: 'pass' | 'fail' | 'inconclusive';
  value: number | null;
  interval?: [number | null, number | null];
  samples: { candidate: number; baseline: number };
  reason: string;
}

export interface RolloutView {
  model: string;
  candidate: string;
  baseline: string;
  status: 'running' | 'paused' | 'completed' | 'rolled_back';
  leader: boolean;
  shared: { lease_ms: number; version: number; holding: string | null } | null;
  waiting_for: string | null;
  steps: ('shadow' | number)[];
  step: 'shadow' | number;
  step_index: number;
  step_started_at: string;
  candidate_share_percent: number;
  mirror_percent: number;
  failures_in_a_row: number;
  failure_limit: number;
  interval_s: number;
  last_judgement: { verdict: string; checks: CheckView[]; abort?: string } | null;
  events: { at: string; event: string; step: 'shadow' | number; detail: string }[];
}

export interface EndpointView {
  url: string;
  health: string;
  draining: boolean;
  drainReasons: string[];
  ejected: boolean;
  ejectedUntil: number | null;
  inFlight: number;
  ejections: number;
  consecutiveErrors: number;
  requests: number;
  errors: number;
}

export type UpstreamsView = Record<string, EndpointView[]>;

/** Everything one refresh reads. */
export interface Snapshot {
  config: ConfigView;
  models: ModelsView;
  rollouts: RolloutView[];
  upstreams: UpstreamsView;
}
