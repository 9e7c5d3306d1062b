import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Server, ServerCredentials, type sendUnaryData } from '@grpc/grpc-js';
import { healthService, type HealthCheckResponse } from '../shared/grpc/inference.js';
import { createUpstreamPool } from './pool.js';
import {
  infer,
  recordingLogger,
  settlesWithin,
  startRuntime,
  testConfig,
  waitFor,
  type LogEntry,
} from '../../test/harness/upstream-servers.js';

const fastHealth = {
  path: '/v2/health/ready',
  interval_ms: 50,
  // Generous: a check timing out on a loaded CI machine would flip the first observation.
  timeout_ms: 1000,
  unhealthy_after: 2,
  healthy_after: 3,
};

function lastEntry(entries: LogEntry[], msg: string): LogEntry | undefined {
  return entries.filter((e) => e.msg === msg).at(-1);
}

describe('active health checks', () => {
  it('marks an endpoint unhealthy after unhealthy_after failures and healthy after healthy_after successes', async () => {
    const runtime = await startRuntime();
    const logger = recordingLogger();
    const pool = createUpstreamPool('onnx', testConfig({ endpoints: [runtime.url], health: fastHealth }), {
      logger,
    });
    try {
      await pool.start();
      assert.equal(pool.status()[0]?.health, 'healthy');
      assert.equal(runtime.readyRequests.get(200), 1, 'start() ran the first check');

      runtime.ready = 500;
      await waitFor('unhealthy', () => pool.status()[0]?.health === 'unhealthy');
      assert.equal(lastEntry(logger.entries, 'upstream endpoint unhealthy')?.obj.failures, 2);
      assert.equal(pool.pick(), undefined, 'an unhealthy endpoint is never picked');

      runtime.ready = 200;
      await waitFor('healthy again', () => pool.status()[0]?.health === 'healthy');
      assert.equal(lastEntry(logger.entries, 'upstream endpoint healthy')?.obj.successes, 3);
      const endpoint = pool.pick();
      assert.ok(endpoint);
      endpoint.release('ok');
    } finally {
      await pool.close();
      await runtime.close();
    }
  });

  it('trusts the first check alone: a dead endpoint leaves rotation at start', async () => {
    const runtime = await startRuntime();
    runtime.ready = 500;
    const pool = createUpstreamPool('onnx', testConfig({ endpoints: [runtime.url], health: fastHealth }));
    try {
      const started = pool.start();
      assert.equal(pool.status()[0]?.health, 'healthy', 'healthy before any check so a fresh gateway serves');
      await started;
      assert.equal(pool.status()[0]?.health, 'unhealthy');
    } finally {
      await pool.close();
      await runtime.close();
    }
  });

  it('drains at once on a 503 and drain().done resolves when in-flight requests finish', async () => {
    const draining = await startRuntime();
    const other = await startRuntime();
    const logger = recordingLogger();
    const pool = createUpstreamPool(
      'onnx',
      // A high threshold shows the drain does not wait for it.
      testConfig({ endpoints: [draining.url, other.url], health: { ...fastHealth, unhealthy_after: 100 } }),
      { logger },
    );
    try {
      await pool.start();
      const target = pool.endpoints().find((e) => e.url === draining.url);
      assert.ok(target);
      draining.infer = 'hold';
      target.acquire();
      const inFlight = infer(target);
      await waitFor('request held by the runtime', () => draining.held === 1);

      draining.ready = 503;
      await waitFor('drained', () => pool.status().find((s) => s.url === draining.url)?.draining === true);
      const status = pool.status().find((s) => s.url === draining.url);
      assert.deepEqual(status?.drainReasons, ['not-ready']);
      assert.equal(status?.health, 'healthy', 'drained before the unhealthy threshold');
      assert.equal(status?.inFlight, 1);
      for (let i = 0; i < 50; i++) {
        const picked = pool.pick();
        assert.equal(picked?.url, other.url);
        picked?.release('ok');
      }

      const { found, done } = pool.drain(draining.url);
      assert.equal(found, true);
      assert.equal(await settlesWithin(done, 100), false, 'done waits for the in-flight request');
      draining.releaseHeld();
      assert.deepEqual(
        await inFlight,
        { status: 200, outcome: 'ok' },
        'the in-flight request finished normally',
      );
      assert.equal(await settlesWithin(done, 2000), true);
      assert.equal(pool.status().find((s) => s.url === draining.url)?.inFlight, 0);

      // Ready again: the runtime's drain lifts after healthy_after successes, the operator's stays.
      draining.ready = 200;
      await waitFor('not-ready lifted', () => {
        const s = pool.status().find((e) => e.url === draining.url);
        return s !== undefined && !s.drainReasons.includes('not-ready');
      });
      assert.deepEqual(pool.status().find((s) => s.url === draining.url)?.drainReasons, ['admin']);
      assert.equal(pool.undrain(draining.url), true);
      assert.equal(pool.status().find((s) => s.url === draining.url)?.draining, false);
      assert.ok(logger.entries.some((e) => e.msg === 'upstream endpoint not ready (503), draining'));
    } finally {
      await pool.close();
      await draining.close();
      await other.close();
    }
  });

  it('a check that outlives timeout_ms counts as a failure', async () => {
    const runtime = await startRuntime();
    runtime.ready = 'hold';
    const health = { ...fastHealth, timeout_ms: 200 };
    const pool = createUpstreamPool('onnx', testConfig({ endpoints: [runtime.url], health }));
    try {
      const startedAt = Date.now();
      assert.equal(await settlesWithin(pool.start(), 2000), true, 'a hung runtime does not hang start()');
      assert.ok(Date.now() - startedAt >= health.timeout_ms - 5);
      assert.equal(pool.status()[0]?.health, 'unhealthy');
    } finally {
      await pool.close();
      await runtime.close();
    }
  });
});

describe('active health checks of a grpc endpoint (grpc.health.v1.Health/Check)', () => {
  it('SERVING is healthy, NOT_SERVING drains at once, no server fails; close() closes the channel', async () => {
    let serving: HealthCheckResponse['status'] = 'SERVING';
    const server = new Server();
    server.addService(healthService(), {
      Check: (_call: unknown, done: sendUnaryData<HealthCheckResponse>) => done(null, { status: serving }),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const pool = createUpstreamPool(
      'onnx',
      testConfig({ endpoints: [`grpc://127.0.0.1:${port}`], health: fastHealth }),
    );
    try {
      await pool.start();
      const [endpoint] = pool.endpoints();
      assert.equal(endpoint?.protocol, 'grpc');
      assert.equal(endpoint?.url, `grpc://127.0.0.1:${port}`);
      assert.equal(pool.status()[0]?.health, 'healthy');

      serving = 'NOT_SERVING'; // what the runtime answers while draining or loading
      await waitFor('drained', () => pool.status()[0]?.drainReasons.includes('not-ready') === true);
      serving = 'SERVING';
      await waitFor('back in rotation', () => pool.status()[0]?.draining === false);

      server.forceShutdown();
      await waitFor('unhealthy', () => pool.status()[0]?.health === 'unhealthy');
    } finally {
      await pool.close();
      server.forceShutdown();
    }
    assert.equal(pool.endpoints()[0]?.grpc?.closed, true);
  });
});
