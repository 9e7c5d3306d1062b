import type { Registry } from 'prom-client';
import type { RolloutRegistry } from '../delivery/registry.js';
import type { ActiveGateway } from '../gateway/active.js';
import type { ModelStates } from '../gateway/model-state.js';
import { TrafficHistory, TRAFFIC_HISTORY_DEFAULTS, type TrafficHistoryOptions } from './history.js';
import { modelOverview, WINDOW_MS, type DriftValue } from './overview.js';

export interface ModelsViewDeps {
  active: ActiveGateway;
  registry: Registry;
  models: ModelStates;
  rollouts: RolloutRegistry;
  history?: TrafficHistoryOptions;
}

export interface ModelsView {
  /** `GET /admin/models`: every model of the active config, live. */
  read(): Promise<object>;
  close(): void;
}

/**
 * What the console shows of each model, for `GET /admin/models`: read from the same registry
 * /metrics renders and the same live state /admin/stats reads, plus a few minutes of readings
 * kept for the rates and charts. Starts sampling at once, for the life of the process.
 */
export function createModelsView(deps: ModelsViewDeps): ModelsView {
  const history = new TrafficHistory(deps.registry, deps.history ?? TRAFFIC_HISTORY_DEFAULTS);
  history.start();
  const sampleMs = (deps.history ?? TRAFFIC_HISTORY_DEFAULTS).sampleMs;
  return {
    async read() {
      const now = await history.current();
      const windowStart = history.windowStart(now.at, WINDOW_MS);
      const drift = await driftValues(deps.registry);
      const sources = {
        now,
        windowStart,
        history: history.all(),
        rolloutShare: (model: string) => deps.rollouts.get(model)?.share(),
        breaker: (model: string, variant: string) =>
          deps.models.stats(model)?.breakers.get(variant)?.state ?? 'closed',
        shadows: (model: string) => deps.models.stats(model)?.shadows.report() ?? [],
        gate: (model: string) => deps.models.stats(model)?.gate,
        drift: (model: string) => drift.get(model) ?? [],
      };
      const { snapshot, models } = deps.active.version;
      return {
        config: snapshot.hash,
        at: new Date(now.at).toISOString(),
        window_s: windowStart ? Math.round((now.at - windowStart.at) / 100) / 10 : 0,
        sample_s: sampleMs / 1000,
        models: Object.fromEntries(
          [...models].map(([name, model]) => [name, modelOverview(name, model.config, sources)]),
        ),
      };
    },
    close: () => history.close(),
  };
}

/**
 * The switchyard_drift_psi gauge by model, whoever sets it (a rollout's judgement, the drift
 * tracker): read from the registry, so a new writer shows up here unchanged.
 */
async function driftValues(registry: Registry): Promise<Map<string, DriftValue[]>> {
  const byModel = new Map<string, DriftValue[]>();
  const gauge = registry.getSingleMetric('switchyard_drift_psi');
  if (!gauge) return byModel;
  for (const { labels, value } of (await gauge.get()).values) {
    const model = String(labels.model);
    const list = byModel.get(model) ?? [];
    list.push({
      variant: String(labels.variant ?? ''),
      feature: String(labels.feature ?? ''),
      against: labels.against === undefined ? null : String(labels.against),
      psi: value,
    });
    byModel.set(model, list);
  }
  return byModel;
}
