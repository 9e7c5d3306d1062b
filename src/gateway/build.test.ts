import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText } from '../config/load.js';
import { RolloutRegistry } from '../delivery/registry.js';
import { DriftRegistry } from '../drift/registry.js';
import type { ConfigSnapshot } from '../config/load.js';
import { MetadataRegistry } from '../stages/validate/metadata.js';
import { createState } from '../ratelimit/index.js';
import { createDeferredTasks } from '../telemetry/deferred.js';
import { createGatewayMetrics } from '../telemetry/metrics.js';
import { createLogger } from '../shared/logger.js';
import type { PredictionLog } from '../telemetry/prediction-log/index.js';
import { startRuntime, waitFor } from '../../test/harness/upstream-servers.js';
import { buildGateway, type BuildDeps } from './build.js';
import { ModelStates } from './model-state.js';

/** Two models, a and b; `a`'s limits and breaker settings, and whether b keeps a result cache, vary. */
function configText(runtimeUrl: string, a: { concurrency: number; volume: number }, bCache: boolean): string {
  const model = (name: string, extra: string) => `
  ${name}:
    routing: { key: header:x-user-id, salt: ${name} }
    variants:
      - { name: v1, upstream: onnx, model: ${name}, version: '1', weight: 100 }
    ${extra}`;
  return `
listen: { host: 127.0.0.1, port: 0 }
state: { redis_url: '' }
prediction_log: { enabled: false }
tenants:
  - name: t
    keys: [{ sha256: '${'0'.repeat(64)}' }]
    scopes: [infer]
upstreams:
  onnx:
    endpoints: ['${runtimeUrl}']
    health: { path: /v2/health/ready, interval_ms: 60000 }
models:${model(
    'a',
    `admission: { max_concurrency: ${a.concurrency}, max_queue: 8 }
    breaker: { volume_threshold: ${a.volume} }`,
  )}${model('b', bCache ? 'cache: { ttl_ms: 1000 }' : '')}
`;
}

function snapshot(text: string): ConfigSnapshot {
  const loaded = parseConfigText(text, {}, 'test.yaml');
  assert.ok(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.problems));
  return loaded.snapshot;
}

const noLog: PredictionLog = { write() {}, flush: async () => {}, close: async () => {} };

test('a reload whose second model fails to build leaves the first model as it was, and starts nothing', async () => {
  const runtime = await startRuntime();
  const models = new ModelStates();
  const metrics = createGatewayMetrics(models);
  const logger = createLogger('silent');
  const state = createState({ redis_url: '', failure_mode: 'open' });
  const metadata = new MetadataRegistry(logger);
  const deps: BuildDeps = {
    metrics,
    logger,
    models,
    limiter: state.limiter,
    metadata,
    redis: undefined,
    predictionLog: noLog,
    rollouts: new RolloutRegistry({ logger, metrics: metrics.delivery }),
    deferred: createDeferredTasks(metrics.deferredFailures, logger),
    drift: new DriftRegistry({ metrics: metrics.drift }),
  };
  try {
    const first = buildGateway(
      snapshot(configText(runtime.url, { concurrency: 4, volume: 20 }, false)),
      deps,
    );
    first.apply();
    await waitFor("the first pool's first health check", () => runtime.readyRequests.size > 0);
    const a = models.stats('a')!;
    const before = {
      limits: a.gate.limits,
      breakers: new Map(a.breakers),
      breakerConfig: a.breakers.get('v1')!.config,
      retryBudget: a.retryBudget,
    };
    assert.deepEqual(before.limits, { maxConcurrency: 4, maxQueue: 8 });

    // The second model's build throws: here, binding its cache metrics (b has a cache in this version).
    const failing: BuildDeps = {
      ...deps,
      previous: first.gateway,
      metrics: {
        ...metrics,
        cache: {
          ...metrics.cache,
          lookups: {
            labels: () => {
              throw new Error('model b cannot be built');
            },
          } as unknown as typeof metrics.cache.lookups,
        },
      },
    };
    const changed = configText(`http://127.0.0.1:${runtime.port}/`, { concurrency: 99, volume: 5 }, true);
    const readyChecksBefore = [...runtime.readyRequests.values()].reduce((n, c) => n + c, 0);
    assert.throws(() => buildGateway(snapshot(changed), failing), /model b cannot be built/);

    assert.deepEqual(a.gate.limits, before.limits, "a's concurrency limits are the old config's");
    assert.equal(a.retryBudget, before.retryBudget);
    assert.deepEqual([...a.breakers.entries()], [...before.breakers.entries()], 'the same breakers');
    assert.equal(a.breakers.get('v1')!.config, before.breakerConfig, 'with the old settings');
    assert.equal(a.breakers.get('v1')!.state, 'closed', 'and not shut down');
    // The failed build's new pool (its endpoint URL differs) was never started: no health check.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const readyChecksAfter = [...runtime.readyRequests.values()].reduce((n, c) => n + c, 0);
    assert.equal(readyChecksAfter, readyChecksBefore, 'no health check from a pool never applied');

    // The same version built without the fault: nothing changes until apply(), then all of it does.
    const next = buildGateway(snapshot(changed), { ...deps, previous: first.gateway });
    assert.deepEqual(a.gate.limits, before.limits, 'built, not applied: still the old limits');
    next.apply();
    assert.deepEqual(a.gate.limits, { maxConcurrency: 99, maxQueue: 8 });
    assert.notEqual(a.breakers.get('v1'), before.breakers.get('v1'), 'a new breaker for new settings');
    assert.equal(a.breakers.get('v1')!.config.volume_threshold, 5);
    assert.equal(models.stats('b')!.cache?.maxEntries !== undefined, true, "b's cache exists once applied");
    await next.discard();
    await Promise.all([...first.gateway.pools.values()].map((pool) => pool.close()));
  } finally {
    models.close();
    metadata.close();
    await state.close();
    await runtime.close();
  }
});
