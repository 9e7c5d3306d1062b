import type { RuntimeMetrics } from './metrics.js';
import type { Repository } from './repository/load.js';

/** What a runtime's request handling shares: its models, its metrics, where it is in its life. */
export interface RuntimeState {
  repository: Repository;
  metrics: RuntimeMetrics;
  /** Every version has loaded or failed. */
  loaded: boolean;
  /** SIGTERM received: not ready, finishing what it holds. */
  draining: boolean;
  /** Inference requests that passed decoding and were queued, and those answered 200. */
  accepted: number;
  answered: number;
}
