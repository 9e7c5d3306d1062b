import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createP2cBalancer } from './balancer.js';
import type { Endpoint } from './endpoint.js';
import { createUpstreamMetrics } from './metrics.js';
import { ejectionTime, maxEjectable } from './outlier.js';
import { createUpstreamPool, type UpstreamPool } from './pool.js';
import {
  infer,
  recordingLogger,
  seededRandom,
  startRuntime,
  testConfig,
  type TestRuntime,
} from '../../test/harness/upstream-servers.js';

/** A clock the test moves by hand, so ejection times are exact. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function endpointOf(pool: UpstreamPool, runtime: TestRuntime): Endpoint {
  const endpoint = pool.endpoints().find((e) => e.url === runtime.url);
  assert.ok(endpoint, `endpoint ${runtime.url}`);
  return endpoint;
}

async function failTimes(endpoint: Endpoint, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    endpoint.acquire();
    const { outcome } = await infer(endpoint);
    assert.equal(outcome, 'error');
  }
}

function picksOf(pool: UpstreamPool, n: number): Set<string> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const endpoint = pool.pick();
    if (endpoint === undefined) continue;
    seen.add(endpoint.url);
    endpoint.release('ok');
  }
  return seen;
}

describe('outlier ejection', () => {
  it('computes the cap and the backoff as documented', () => {
    assert.equal(maxEjectable(1, 50), 0, 'never the only endpoint');
    assert.equal(maxEjectable(2, 10), 1, 'at least one when there are two or more');
    assert.equal(maxEjectable(3, 50), 1);
    assert.equal(maxEjectable(4, 50), 2);
    assert.equal(maxEjectable(3, 100), 2, 'never the last one');
    assert.equal(maxEjectable(10, 0), 0, '0% turns ejection off');
    const config = { consecutive_errors: 1, eject_ms: 1000, max_eject_ms: 5000, max_ejected_percent: 50 };
    assert.deepEqual(
      [1, 2, 3, 4, 100].map((n) => ejectionTime(config, n)),
      [1000, 2000, 4000, 5000, 5000],
    );
  });

  it('ejects after consecutive errors, doubles on a repeat, caps, returns, and resets after a healthy period', async () => {
    const runtimes = await Promise.all([startRuntime(), startRuntime(), startRuntime()]);
    const [bad, good1, good2] = runtimes as [TestRuntime, TestRuntime, TestRuntime];
    bad.infer = 500;
    const clock = manualClock();
    const registry = new Registry();
    const pool = createUpstreamPool(
      'onnx',
      testConfig({
        endpoints: runtimes.map((r) => r.url),
        outlier: { consecutive_errors: 3, eject_ms: 1000, max_eject_ms: 3000, max_ejected_percent: 50 },
      }),
      {
        now: clock.now,
        balancer: createP2cBalancer(seededRandom(7)),
        metrics: createUpstreamMetrics(registry),
      },
    );
    try {
      await pool.start();
      const endpoint = endpointOf(pool, bad);
      const statusOf = () => pool.status().find((s) => s.url === bad.url);

      // Two errors, a success, two errors: never three in a row.
      await failTimes(endpoint, 2);
      bad.infer = 200;
      endpoint.acquire();
      assert.equal((await infer(endpoint)).outcome, 'ok');
      bad.infer = 500;
      await failTimes(endpoint, 2);
      assert.equal(statusOf()?.ejected, false);

      await failTimes(endpoint, 1);
      assert.equal(statusOf()?.ejected, true);
      assert.equal(statusOf()?.ejectedUntil, clock.now() + 1000);
      assert.deepEqual(
        picksOf(pool, 200),
        new Set([good1.url, good2.url]),
        'an ejected endpoint is never picked',
      );

      clock.advance(999);
      assert.equal(statusOf()?.ejected, true);
      clock.advance(1);
      assert.equal(statusOf()?.ejected, false, 'back in rotation when the time is up');
      assert.ok(picksOf(pool, 200).has(bad.url));

      await failTimes(endpoint, 3);
      assert.equal(statusOf()?.ejectedUntil, clock.now() + 2000, 'the second ejection lasts twice as long');
      clock.advance(2000);
      await failTimes(endpoint, 3);
      assert.equal(statusOf()?.ejectedUntil, clock.now() + 3000, 'capped at max_eject_ms');
      assert.equal(statusOf()?.ejections, 3);

      // In rotation for max_eject_ms after the last ejection ended: the backoff starts over.
      clock.advance(3000 + 3000);
      await failTimes(endpoint, 3);
      assert.equal(statusOf()?.ejectedUntil, clock.now() + 1000);

      const text = await registry.metrics();
      assert.match(
        text,
        new RegExp(
          `switchyard_upstream_ejections_total\\{upstream="onnx",endpoint="127.0.0.1:${bad.port}"\\} 4`,
        ),
      );
    } finally {
      await pool.close();
      await Promise.all(runtimes.map((r) => r.close()));
    }
  });

  it('answers that arrive while ejected do not count toward the next ejection', async () => {
    const runtimes = await Promise.all([startRuntime(), startRuntime()]);
    const [bad] = runtimes as [TestRuntime, TestRuntime];
    bad.infer = 500;
    const clock = manualClock();
    const pool = createUpstreamPool('onnx', testConfig({ endpoints: runtimes.map((r) => r.url) }), {
      now: clock.now,
    });
    try {
      await pool.start();
      const endpoint = endpointOf(pool, bad);
      await failTimes(endpoint, 3);
      await failTimes(endpoint, 5); // stragglers, answered while ejected
      clock.advance(1000);
      await failTimes(endpoint, 2);
      const status = pool.status().find((s) => s.url === bad.url);
      assert.equal(status?.ejected, false);
      assert.equal(status?.ejections, 1);
      assert.equal(status?.errors, 10, 'every error still shows in the counters');
    } finally {
      await pool.close();
      await Promise.all(runtimes.map((r) => r.close()));
    }
  });

  it('never ejects more than max_ejected_percent, nor a lone endpoint', async () => {
    const runtimes = await Promise.all([startRuntime(), startRuntime(), startRuntime()]);
    const [bad1, bad2] = runtimes as [TestRuntime, TestRuntime, TestRuntime];
    bad1.infer = 500;
    bad2.infer = 500;
    const clock = manualClock();
    const logger = recordingLogger();
    const pool = createUpstreamPool('onnx', testConfig({ endpoints: runtimes.map((r) => r.url) }), {
      now: clock.now,
      logger,
    });
    const lone = await startRuntime();
    lone.infer = 500;
    const lonePool = createUpstreamPool('solo', testConfig({ endpoints: [lone.url] }), { now: clock.now });
    try {
      await pool.start();
      await lonePool.start();
      // 50% of 3 rounds down to 1.
      await failTimes(endpointOf(pool, bad1), 3);
      await failTimes(endpointOf(pool, bad2), 6);
      const ejected = pool
        .status()
        .filter((s) => s.ejected)
        .map((s) => s.url);
      assert.deepEqual(ejected, [bad1.url]);
      assert.ok(logger.entries.some((e) => e.msg.includes('max_ejected_percent reached')));

      // Once the first returns, the second may take its turn.
      clock.advance(1000);
      await failTimes(endpointOf(pool, bad2), 1);
      assert.deepEqual(
        pool
          .status()
          .filter((s) => s.ejected)
          .map((s) => s.url),
        [bad2.url],
      );

      await failTimes(endpointOf(lonePool, lone), 10);
      assert.equal(lonePool.status()[0]?.ejected, false, 'ejecting the only endpoint would leave none');
      const picked = lonePool.pick();
      assert.equal(picked?.url, lone.url);
      picked?.release('ok');
    } finally {
      await pool.close();
      await lonePool.close();
      await Promise.all([...runtimes, lone].map((r) => r.close()));
    }
  });
});
