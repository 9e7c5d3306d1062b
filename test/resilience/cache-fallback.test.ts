import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import { runtimeRequests } from '../harness/load.js';
import type { StartedProcess } from '../harness/process.js';
import { fallbacks, gatewayMetrics, withoutIds, type DecisionAnswer } from '../harness/resilience.js';
import { startRuntime } from '../harness/runtime.js';

const FALLBACK_HEADER = /^cache; reason=(upstream_error|no_endpoint|circuit_open|budget_exhausted)$/;

/** Every request goes to v1 (weight 100), so the cache key of an input never depends on the user. */
const cacheConfig = (runtimes: string[], cache: object) =>
  fraudGatewayConfig(runtimes, {
    weights: [100, 0],
    model: {
      budget_ms: 1000,
      cache,
      fallback: ['cache', { default: { decision: 'review' } }],
    },
  });

test(
  'a dead runtime: a repeated input is answered from the cache, a new one by the default decision',
  { timeout: 60_000 },
  async () => {
    let runtime: StartedProcess | undefined;
    let gateway: GatewayUnderTest | undefined;
    const client = createClient(4);
    const [x, y] = fraudRows(2, 4242) as [number[], number[]];
    try {
      runtime = await startRuntime();
      gateway = await startGateway(cacheConfig([runtime.url], { ttl_ms: 60_000 }));
      const url = `${gateway.url}/v1/decisions/fraud`;

      const first = await postJson(client, url, decisionBody(x, 'u-cache-x'), AUTH);
      assert.equal(first.status, 200, first.text);
      const live = first.body as DecisionAnswer;
      assert.equal(live.fallback, null, first.text);
      assert.equal(first.headers['x-switchyard-fallback'], undefined);
      assert.equal(typeof live.score, 'number');

      assert.equal(await runtime.stop('SIGKILL'), 'SIGKILL');

      const again = await postJson(client, url, decisionBody(x, 'u-cache-x'), AUTH);
      assert.equal(again.status, 200, again.text);
      const cached = again.body as DecisionAnswer;
      assert.equal(cached.fallback?.kind, 'cache', again.text);
      const header = again.headers['x-switchyard-fallback'];
      assert.match(String(header), FALLBACK_HEADER);
      assert.equal(header, `cache; reason=${cached.fallback.reason}`);
      assert.deepEqual(
        { ...withoutIds(cached), fallback: null },
        withoutIds(live),
        'the cached answer is the one the model gave',
      );

      const fresh = await postJson(client, url, decisionBody(y, 'u-cache-y'), AUTH);
      assert.equal(fresh.status, 200, fresh.text);
      const defaulted = fresh.body as DecisionAnswer;
      assert.equal(defaulted.decision, 'review', fresh.text);
      assert.equal(defaulted.fallback?.kind, 'default', fresh.text);
      assert.equal(defaulted.score, null);
      assert.match(String(fresh.headers['x-switchyard-fallback']), /^default; reason=\w+$/);

      const metrics = await gatewayMetrics(client, gateway.url);
      assert.equal(fallbacks(metrics, { model: 'fraud', kind: 'cache' }), 1);
      assert.equal(fallbacks(metrics, { model: 'fraud', kind: 'default' }), 1);
      console.log(
        `# cache-fallback: ${String(header)}; default ${String(fresh.headers['x-switchyard-fallback'])}`,
      );
    } finally {
      await client.close();
      await gateway?.stop();
      await runtime?.stop('SIGKILL');
    }
  },
);

test(
  'cache.serve_hits: a repeated input is answered from the cache without reaching the runtime',
  { timeout: 60_000 },
  async () => {
    let runtime: StartedProcess | undefined;
    let gateway: GatewayUnderTest | undefined;
    const client = createClient(4);
    const [x, y] = fraudRows(2, 4343) as [number[], number[]];
    try {
      runtime = await startRuntime();
      gateway = await startGateway(cacheConfig([runtime.url], { ttl_ms: 60_000, serve_hits: true }));
      const url = `${gateway.url}/v1/decisions/fraud`;

      const first = await postJson(client, url, decisionBody(x, 'u-hit-x'), AUTH);
      assert.equal(first.status, 200, first.text);
      assert.equal((first.body as DecisionAnswer).fallback, null);
      assert.equal(first.headers['x-switchyard-cache'], undefined, 'the first answer came from the model');
      const served = await runtimeRequests(client, runtime.url);

      for (let i = 0; i < 3; i++) {
        const hit = await postJson(client, url, decisionBody(x, `u-hit-x-${i}`), AUTH);
        assert.equal(hit.status, 200, hit.text);
        assert.equal(hit.headers['x-switchyard-cache'], 'hit');
        assert.equal(hit.headers['x-switchyard-fallback'], undefined, 'a cache hit is not a fallback');
        assert.deepEqual(withoutIds(hit.body as DecisionAnswer), withoutIds(first.body as DecisionAnswer));
      }
      assert.equal(await runtimeRequests(client, runtime.url), served, 'the runtime saw none of the hits');

      const miss = await postJson(client, url, decisionBody(y, 'u-hit-y'), AUTH);
      assert.equal(miss.status, 200, miss.text);
      assert.equal(miss.headers['x-switchyard-cache'], undefined);
      assert.equal(await runtimeRequests(client, runtime.url), served + 1, 'a new input reaches the runtime');
    } finally {
      await client.close();
      await gateway?.stop();
      await runtime?.stop();
    }
  },
);
