import { isDeepStrictEqual } from 'node:util';
import type { ModelConfig } from '../config/schema.js';
import { DRIFT_DEFAULTS } from './config.js';
import type { DriftMetrics } from './metrics.js';
import type { DriftReference } from './reference.js';
import { DriftTracker } from './tracker.js';

/** A model's drift tracker as a config version will have it; nothing changes until `apply`. */
export interface PreparedDrift {
  readonly tracker: DriftTracker | undefined;
  apply(): void;
}

/**
 * The drift trackers of the process, one per model with a contract and drift on. A tracker
 * outlives config versions while what its bins and references come from stays the same — the
 * contract and the reference file's content — so a reload that edits weights, the window or
 * anything else keeps the references it learned (as src/delivery/registry.ts keeps a rollout).
 */
export class DriftRegistry {
  private readonly running = new Map<string, DriftTracker>();

  constructor(private readonly deps: { metrics: DriftMetrics }) {}

  prepare(model: string, config: ModelConfig, reference: DriftReference | undefined): PreparedDrift {
    const current = this.running.get(model);
    const settings = config.drift ?? DRIFT_DEFAULTS;
    const contract = settings.enabled ? config.contract : undefined;
    const kept =
      current &&
      contract &&
      isDeepStrictEqual(current.contract, contract) &&
      isDeepStrictEqual(current.reference, reference)
        ? current
        : undefined;
    const tracker =
      kept ?? (contract ? new DriftTracker(model, contract, reference, this.deps.metrics) : undefined);
    return {
      tracker,
      apply: () => {
        if (current && current !== tracker) current.stop();
        if (!tracker) {
          this.running.delete(model);
          return;
        }
        tracker.configure(settings, config.variants);
        tracker.start();
        this.running.set(model, tracker);
      },
    };
  }

  /** After a reload, models no longer in the config measure nothing. */
  retain(models: Iterable<string>): void {
    const keep = new Set(models);
    for (const [model, tracker] of this.running) {
      if (!keep.has(model)) {
        tracker.stop();
        this.running.delete(model);
      }
    }
  }

  get(model: string): DriftTracker | undefined {
    return this.running.get(model);
  }

  close(): void {
    for (const tracker of this.running.values()) tracker.stop();
    this.running.clear();
  }
}
