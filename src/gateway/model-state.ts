import { isDeepStrictEqual } from 'node:util';
import type { ModelConfig } from '../config/schema.js';
import { VariantBreaker, type BreakerState } from '../outbound/breaker.js';
import { LatencyWindow } from '../outbound/latency.js';
import { RetryBudget } from '../outbound/retry-budget.js';
import { AdmissionGate } from '../stages/admission/gate.js';
import { MemoryCacheStore } from '../stages/cache/store.js';
import type { Logger } from '../shared/logger.js';
import { ShadowStats } from '../stages/shadow/stats.js';
import type { BreakerConfig, RetryConfig } from '../stages/upstream/config.js';

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

/**
 * A model's state as a config version will have it, worked out without changing the state that
 * serves now. The new version's pipeline is built from it; `apply` makes it the model's state
 * (limits, retry budget, cache, breakers) when the version is swapped in, and not before: a
 * build that fails later leaves every model as it was.
 */
export interface PreparedModelState {
  readonly gate: AdmissionGate;
  readonly latency: LatencyWindow;
  readonly shadows: ShadowStats;
  /** The result cache the version will use (undefined: no in-memory cache). */
  readonly cache: MemoryCacheStore | undefined;
  /** The budget in force when a call is made (a later reload may replace it). */
  retryBudget(): RetryBudget;
  /** The variant's breaker when a call is made (a later reload may replace it). */
  breakerOf(variant: string): VariantBreaker | undefined;
  apply(): void;
}

/** Per-model state for the life of the process; each config version prepares, then applies, its part. */
export class ModelStates {
  private readonly states = new Map<string, ModelState>();

  /** `logger`: where breakers log their state changes (none in unit tests). */
  constructor(private readonly logger?: Logger) {}

  /** The model's state as `config` wants it; nothing changes until `apply()`. */
  prepare(model: string, config: ModelConfig): PreparedModelState {
    const current = this.states.get(model);
    const gate =
      current?.gate ?? new AdmissionGate(config.admission.max_concurrency, config.admission.max_queue);
    const latency = current?.latency ?? new LatencyWindow();
    const shadows = current?.shadows ?? new ShadowStats();
    const retryBudget =
      current && isDeepStrictEqual(current.retryConfig, config.retry)
        ? current.retryBudget
        : new RetryBudget(config.retry.budget_percent, config.retry.min_per_second);
    const maxEntries = config.cache?.max_entries;
    const cache =
      maxEntries === undefined
        ? undefined
        : current?.cache?.maxEntries === maxEntries
          ? current.cache
          : new MemoryCacheStore(maxEntries);
    const breakerNames = [...config.variants, ...config.shadows].map((v) => v.name);
    const live = (): ModelState | undefined => this.states.get(model);
    return {
      gate,
      latency,
      shadows,
      cache,
      retryBudget: () => live()?.retryBudget ?? retryBudget,
      breakerOf: (variant) => live()?.breakers.get(variant),
      apply: () => {
        const state: ModelState = current ?? {
          gate,
          latency,
          retryBudget,
          retryConfig: config.retry,
          breakers: new Map(),
          shadows,
          cache,
        };
        this.states.set(model, state);
        gate.setLimits(config.admission.max_concurrency, config.admission.max_queue);
        state.retryBudget = retryBudget;
        state.retryConfig = config.retry;
        state.cache = cache;
        syncBreakers(state.breakers, breakerNames, config.breaker, (variant) =>
          this.logger ? { owner: { model, variant }, logger: this.logger } : undefined,
        );
      },
    };
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

function syncBreakers(
  breakers: Map<string, VariantBreaker>,
  names: string[],
  config: BreakerConfig,
  logOf: (variant: string) => ConstructorParameters<typeof VariantBreaker>[1],
): void {
  for (const [name, breaker] of breakers) {
    if (!names.includes(name) || !isDeepStrictEqual(breaker.config, config)) {
      // A breaker that was not closed ends without a 'close': its log says the reload ended it.
      const log = logOf(name);
      if (log && breaker.state !== 'closed') {
        log.logger.info(
          { ...log.owner, state: breaker.state, reason: 'reload' },
          `breaker of ${log.owner.model}/${name} replaced by a config reload; the new one starts closed`,
        );
      }
      breaker.shutdown();
      breakers.delete(name);
    }
  }
  for (const name of names)
    if (!breakers.has(name)) breakers.set(name, new VariantBreaker(config, logOf(name)));
}
