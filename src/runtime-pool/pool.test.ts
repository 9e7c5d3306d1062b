import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { Endpoint } from './endpoint.js';
import { createUpstreamMetrics } from './metrics.js';
import { createUpstreamPool } from './pool.js';
import {
  infer,
  inferThroughPool,
  startRuntime,
  testConfig,
  waitFor,
  type TestRuntime,
} from '../../test/harness/upstream-servers.js';

describe('upstream pool', () => {
  it('spreads requests over three endpoints and settles in-flight counts to zero', async () => {
    const runtimes = await Promise.all([startRuntime(), startRuntime(), startRuntime()]);
    const pool = createUpstreamPool('onnx', testConfig({ endpoints: runtimes.map((r) => r.url) }));
    try {
      await pool.start();
      const seenInFlight: number[] = [];
      for (let round = 0; round < 10; round++) {
        const batch = Array.from({ length: 30 }, () => inferThroughPool(pool));
        seenInFlight.push(pool.endpoints().reduce((sum, e) => sum + e.inFlight, 0));
        const results = await Promise.all(batch);
        for (const result of results) assert.equal(result?.status, 200);
      }
      assert.ok(
        seenInFlight.every((n) => n === 30),
        'pick() counts each request in flight',
      );
      for (const runtime of runtimes) {
        assert.ok(runtime.inferRequests >= 60, `${runtime.url} got ${runtime.inferRequests} of 300`);
      }
      for (const status of pool.status()) {
        assert.equal(status.inFlight, 0);
        assert.equal(status.errors, 0);
      }
      assert.equal(
        pool.status().reduce((sum, s) => sum + s.requests, 0),
        300,
      );
    } finally {
      await pool.close();
      await Promise.all(runtimes.map((r) => r.close()));
    }
  });

  it('never picks a draining, unhealthy or ejected endpoint; a stopped server is ejected', async () => {
    const runtimes = await Promise.all([startRuntime(), startRuntime(), startRuntime(), startRuntime()]);
    const [drained, sick, stopped, good] = runtimes as [TestRuntime, TestRuntime, TestRuntime, TestRuntime];
    const registry = new Registry();
    const pool = createUpstreamPool(
      'onnx',
      testConfig({
        endpoints: runtimes.map((r) => r.url),
        health: {
          path: '/v2/health/ready',
          interval_ms: 50,
          timeout_ms: 1000,
          unhealthy_after: 2,
          healthy_after: 2,
        },
        outlier: { consecutive_errors: 3, eject_ms: 60_000, max_eject_ms: 60_000, max_ejected_percent: 50 },
      }),
      { metrics: createUpstreamMetrics(registry) },
    );
    const byUrl = (runtime: TestRuntime): Endpoint => {
      const endpoint = pool.endpoints().find((e) => e.url === runtime.url);
      assert.ok(endpoint);
      return endpoint;
    };
    const statusOf = (runtime: TestRuntime) => pool.status().find((s) => s.url === runtime.url);
    try {
      await pool.start();

      // Drain by host:port, as an operator might type it.
      const { found } = pool.drain(`127.0.0.1:${drained.port}`);
      assert.equal(found, true);
      assert.equal(pool.drain('http://127.0.0.1:1').found, false);

      sick.ready = 500;
      await waitFor('sick endpoint unhealthy', () => statusOf(sick)?.health === 'unhealthy');

      // A closed socket: requests fail to connect, outlier detection ejects it before its
      // health checks (every 50 ms, two failures) could matter.
      const target = byUrl(stopped);
      await stopped.close();
      for (let i = 0; i < 3; i++) {
        target.acquire();
        const { status, outcome } = await infer(target);
        assert.equal(status, 'error');
        assert.equal(outcome, 'error');
      }
      assert.equal(statusOf(stopped)?.ejected, true);

      for (let i = 0; i < 100; i++) {
        const result = await inferThroughPool(pool);
        assert.equal(result?.endpoint.url, good.url);
        assert.equal(result.status, 200);
      }
      // The one eligible endpoint is returned again on a retry rather than nothing.
      const retry = pool.pick(new Set([byUrl(good)]));
      assert.equal(retry?.url, good.url);
      retry?.release('ok');

      pool.drain(good.url);
      assert.equal(pool.pick(), undefined, 'nothing eligible');
      assert.equal(pool.undrain(good.url), true);
      assert.equal(pool.undrain(drained.url), true);
      const picked = new Set<string>();
      for (let i = 0; i < 100; i++) {
        const endpoint = pool.pick();
        assert.ok(endpoint);
        picked.add(endpoint.url);
        endpoint.release('ok');
      }
      assert.deepEqual(picked, new Set([drained.url, good.url]));

      const text = await registry.metrics();
      const label = (r: TestRuntime) => `upstream="onnx",endpoint="127.0.0.1:${r.port}"`;
      assert.match(text, new RegExp(`switchyard_upstream_endpoint_healthy\\{${label(sick)}\\} 0`));
      assert.match(text, new RegExp(`switchyard_upstream_endpoint_healthy\\{${label(good)}\\} 1`));
      assert.match(text, new RegExp(`switchyard_upstream_endpoint_in_flight\\{${label(good)}\\} 0`));
      assert.match(text, new RegExp(`switchyard_upstream_ejections_total\\{${label(stopped)}\\} 1`));
      assert.match(text, /switchyard_upstream_health_checks_total\{upstream="onnx",outcome="fail"\} \d+/);
      assert.match(text, /switchyard_upstream_health_checks_total\{upstream="onnx",outcome="ok"\} \d+/);
    } finally {
      await pool.close();
      await Promise.all(runtimes.map((r) => r.close()));
    }
  });

  it('tells an unchanged config from a changed one, and close() stops everything', async () => {
    const runtime = await startRuntime();
    const config = testConfig({ endpoints: [runtime.url] });
    const registry = new Registry();
    const pool = createUpstreamPool('onnx', config, { metrics: createUpstreamMetrics(registry) });
    try {
      assert.equal(pool.sameConfig(structuredClone(config)), true);
      assert.equal(pool.sameConfig({ ...config, connections: config.connections + 1 }), false);
      assert.equal(pool.sameConfig({ ...config, endpoints: [runtime.url, 'http://127.0.0.1:1'] }), false);

      await pool.start();
      const endpoint = pool.endpoints()[0];
      assert.ok(endpoint);
      assert.match(await registry.metrics(), /switchyard_upstream_endpoint_in_flight\{upstream="onnx"/);
    } finally {
      await pool.close();
      await runtime.close();
    }
    assert.equal(pool.endpoints()[0]?.dispatcher?.closed, true);
    assert.doesNotMatch(await registry.metrics(), /switchyard_upstream_endpoint_in_flight\{upstream="onnx"/);
  });

  it('close() lets an in-flight request finish within the grace time, then aborts it', async () => {
    const runtime = await startRuntime();
    runtime.infer = 'hold';
    const pool = createUpstreamPool('onnx', testConfig({ endpoints: [runtime.url] }), { closeGraceMs: 200 });
    try {
      await pool.start();
      const pending = inferThroughPool(pool);
      await waitFor('request held', () => runtime.held === 1);
      const startedAt = Date.now();
      await pool.close();
      assert.ok(Date.now() - startedAt < 2000);
      assert.equal((await pending)?.status, 'error', 'aborted after the grace time');
    } finally {
      await pool.close();
      await runtime.close();
    }
  });
});

describe('upstream pool lease', () => {
  it('releases the endpoint with the outcome the work reports, or as an error when it throws', async () => {
    const runtimes = await Promise.all([startRuntime(), startRuntime()]);
    const pool = createUpstreamPool('onnx', testConfig({ endpoints: runtimes.map((r) => r.url) }));
    try {
      await pool.start();
      const inFlight = () => pool.status().reduce((n, s) => n + s.inFlight, 0);
      let during = -1;
      const leased = pool.lease(undefined, async (endpoint) => {
        during = inFlight();
        return { outcome: 'error' as const, url: endpoint.url };
      });
      const result = await leased!;
      assert.equal(during, 1, 'counted in flight while the work runs');
      assert.equal(inFlight(), 0);
      assert.equal(pool.status().find((s) => s.url === result.url)!.errors, 1);

      await assert.rejects(
        pool.lease(undefined, async () => {
          throw new Error('work failed');
        })!,
        /work failed/,
      );
      assert.equal(inFlight(), 0);
      assert.equal(
        pool.status().reduce((n, s) => n + s.errors, 0),
        2,
      );

      // Every endpoint already tried: nothing is leased and the work is not called.
      const tried = new Set<Endpoint>(pool.endpoints());
      let called = false;
      const none = pool.lease(tried, async () => {
        called = true;
        return { outcome: 'ok' as const };
      });
      assert.equal(none, undefined);
      assert.equal(called, false);
      assert.equal(inFlight(), 0, 'the pick that found only tried endpoints was given back');
    } finally {
      await pool.close();
      await Promise.all(runtimes.map((r) => r.close()));
    }
  });
});
