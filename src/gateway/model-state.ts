import { isDeepStrictEqual } from 'node:util';
import type { ModelConfig } from '../config/schema.js';
import { AdmissionGate } from '../stages/admission/gate.js';
import { MemoryCacheStore } from '../stages/cache/store.js';
import { ShadowStats } from '../stages/shadow/stats.js';
import { VariantBreaker, type BreakerState } from '../stages/upstream/breaker.js';
import type { BreakerConfig, RetryConfig } from '../stages/upstream/config.js';
import { LatencyWindow } from '../stages/upstream/latency.js';
import { RetryBudget } from '../stages/upstream/retry-budget.js';

/** What a model keeps across config versions. */
export interface ModelState {
  /** Requests in flight and waiting: a reload must not hand out slots that old requests hold. */
  gate: AdmissionGate;
  latency: LatencyWindow;
  retryBudget: RetryBudget;
  retryConfig: RetryConfig;
  /** By variant or shadow name; a breaker survives reloads while its settings stay the same. */
  breakers: Map<string, VariantBreaker>;
  shadows: ShadowStats;
  /** The in-memory result cache, kept across reloads while max_entries stays the same. */
  cache: MemoryCacheStore | undefined;
}

/** Per-model state for the life of the process, updated in place by each config version. */
export class ModelStates {
  private readonly states = new Map<string, ModelState>();

  /** The model's state, adjusted to `config`: limits, retry budget, one breaker per variant and shadow. */
  get(model: string, config: ModelConfig): ModelState {
    let state = this.states.get(model);
    if (!state) {
      state = {
        gate: new AdmissionGate(config.admission.max_concurrency, config.admission.max_queue),
        latency: new LatencyWindow(),
        retryBudget: new RetryBudget(config.retry.budget_percent, config.retry.min_per_second),
        retryConfig: config.retry,
        breakers: new Map(),
        shadows: new ShadowStats(),
        cache: undefined,
      };
      this.states.set(model, state);
    }
    if (!isDeepStrictEqual(state.retryConfig, config.retry)) {
      state.retryBudget = new RetryBudget(config.retry.budget_percent, config.retry.min_per_second);
      state.retryConfig = config.retry;
    }
    const maxEntries = config.cache?.max_entries;
    if (maxEntries === undefined) state.cache = undefined;
    else if (state.cache?.maxEntries !== maxEntries) state.cache = new MemoryCacheStore(maxEntries);
    syncBreakers(
      state.breakers,
      [...config.variants, ...config.shadows].map((v) => v.name),
      config.breaker,
    );
    return state;
  }

  *gates(): Iterable<[string, AdmissionGate]> {
    for (const [model, state] of this.states) yield [model, state.gate];
  }

  *breakerStates(): Iterable<{ model: string; variant: string; state: BreakerState }> {
    for (const [model, state] of this.states) {
      for (const [variant, breaker] of state.breakers) yield { model, variant, state: breaker.state };
    }
  }

  stats(model: string): ModelState | undefined {
    return this.states.get(model);
  }

  close(): void {
    for (const state of this.states.values())
      for (const breaker of state.breakers.values()) breaker.shutdown();
  }
}

function syncBreakers(breakers: Map<string, VariantBreaker>, names: string[], config: BreakerConfig): void {
  for (const [name, breaker] of breakers) {
    if (!names.includes(name) || !isDeepStrictEqual(breaker.config, config)) {
      breaker.shutdown();
      breakers.delete(name);
    }
  }
  for (const name of names) if (!breakers.has(name)) breakers.set(name, new VariantBreaker(config));
}
