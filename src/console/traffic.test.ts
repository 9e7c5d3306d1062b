import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelStates } from '../gateway/model-state.js';
import { createGatewayMetrics } from '../telemetry/metrics.js';
import { histogramQuantile, readTraffic, subtractReadings } from './traffic.js';

test("a reading sums the gateway's own metrics per model and variant", async () => {
  const metrics = createGatewayMetrics(new ModelStates());
  const count = (variant: string, endpoint: string, outcome: string, n: number, seconds: number) => {
    metrics.requests.labels({ model: 'fraud', variant, version: '1', endpoint, outcome }).inc(n);
    for (let i = 0; i < n; i++)
      metrics.requestDuration.labels({ model: 'fraud', variant, version: '1', outcome }).observe(seconds);
  };
  count('v1', 'decision', 'ok', 90, 0.004);
  count('v1', 'infer', 'error', 6, 0.2);
  count('v1', 'decision', 'fallback', 4, 0.02);
  count('v2', 'decision', 'ok', 10, 0.004);
  // Refused before routing (auth, rate limit): no variant, not in any variant's share.
  metrics.requests
    .labels({ model: 'fraud', variant: '', version: '', endpoint: 'decision', outcome: 'client_error' })
    .inc(7);
  metrics.fallback.fallbacks.inc(
    { model: 'fraud', variant: 'v1', kind: 'default', reason: 'upstream_error' },
    4,
  );
  metrics.admission.shed.inc({ model: 'fraud', priority: 'low', reason: 'queue_full' }, 3);
  metrics.admission.rateLimited.inc({ model: 'fraud', limit: 'tenant' }, 7);

  const reading = await readTraffic(metrics.registry, 1000);
  const fraud = reading.models.get('fraud')!;
  assert.deepEqual([...fraud.variants.keys()].sort(), ['v1', 'v2']);
  const v1 = fraud.variants.get('v1')!;
  assert.deepEqual([v1.requests, v1.errors, v1.fallbacks], [100, 6, 4]);
  assert.equal(reading.bounds.at(-1), Infinity);
  assert.equal(v1.latency.at(-1), 100, 'the +Inf bucket counts every request');
  assert.equal(v1.latency[reading.bounds.indexOf(0.005)], 90);
  assert.deepEqual([...fraud.fallbacks], [['v1/default/upstream_error', 4]]);
  assert.deepEqual([...fraud.shed], [['low/queue_full', 3]]);
  assert.deepEqual([...fraud.rateLimited], [['tenant', 7]]);

  // A later reading less this one: what happened in between; a series new since counts whole.
  count('v2', 'decision', 'ok', 5, 0.004);
  count('v3', 'decision', 'ok', 2, 0.004);
  const later = await readTraffic(metrics.registry, 6000);
  const delta = subtractReadings(later, reading).models.get('fraud')!;
  assert.equal(delta.variants.get('v1')!.requests, 0);
  assert.equal(delta.variants.get('v2')!.requests, 5);
  assert.equal(delta.variants.get('v3')!.requests, 2);
  assert.equal(delta.variants.get('v2')!.latency.at(-1), 5);
  assert.equal(delta.fallbacks.get('v1/default/upstream_error'), 0);
});

test('histogramQuantile interpolates inside the bucket, as Prometheus does', () => {
  const bounds = [0.1, 0.2, Infinity];
  // 50 at or under 0.1, 50 more under 0.2: rank 99 is 49/50 of the way through (0.1, 0.2].
  assert.ok(Math.abs(histogramQuantile(0.99, bounds, [50, 100, 100])! - 0.198) < 1e-12);
  assert.equal(histogramQuantile(0.5, bounds, [50, 100, 100]), 0.1);
  // In the first bucket the lower bound is 0.
  assert.equal(histogramQuantile(0.5, bounds, [10, 10, 10]), 0.05);
  // Past the last finite bound it says the bound (the +Inf bucket has no upper end).
  assert.equal(histogramQuantile(0.99, bounds, [0, 0, 10]), 0.2);
  assert.equal(histogramQuantile(0.99, bounds, [0, 0, 0]), null);
});
