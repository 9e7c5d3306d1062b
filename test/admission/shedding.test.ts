import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import { decisionBody, fraudGatewayConfig, startGateway } from '../harness/gateway.js';
import { createClient, getJson, metricValue, postJson, wireError } from '../harness/http.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorCode } from '../../src/errors.js';

const tenant = (name: string, priority: string) => {
  const key = `sk-${randomBytes(12).toString('hex')}`;
  return {
    key,
    config: {
      name,
      keys: [{ sha256: createHash('sha256').update(key).digest('hex') }],
      scopes: ['infer'],
      priority,
    },
  };
};

test('overload: low is shed before high, high displaces queued low, and a shed answer comes at once', async () => {
  // Every call takes ≥100 ms; two run at a time and four may wait.
  const runtime = await startRuntime({ args: ['--added-latency-ms', '100'] });
  const high = tenant('payments', 'high');
  const low = tenant('reports', 'low');
  const gateway = await startGateway(
    fraudGatewayConfig([runtime.url], {
      tenants: [high.config, low.config],
      model: { admission: { max_concurrency: 2, max_queue: 4 }, budget_ms: 2000 },
    }),
  );
  const client = createClient(64);
  const body = decisionBody(fraudRows(1)[0]!, 'u-1');
  const send = (key: string) => {
    const started = performance.now();
    return postJson(client, `${gateway.url}/v1/decisions/fraud`, body, { 'x-api-key': key }).then((r) => ({
      status: r.status,
      code: wireError(r.body)?.code,
      retryAfter: r.headers['retry-after'],
      ms: performance.now() - started,
    }));
  };
  try {
    // Warm the latency window so admission knows what a call costs.
    await Promise.all([send(high.key), send(high.key)]);
    // Fill the slots and the queue with low-priority work, then high-priority work arrives.
    const lows = Array.from({ length: 8 }, () => send(low.key));
    await new Promise((resolve) => setTimeout(resolve, 30));
    const highs = Array.from({ length: 4 }, () => send(high.key));
    const [lowAnswers, highAnswers] = await Promise.all([Promise.all(lows), Promise.all(highs)]);

    assert.deepEqual(
      highAnswers.map((a) => a.status),
      [200, 200, 200, 200],
      'every high-priority request is served',
    );
    const shed = lowAnswers.filter((a) => a.status === 503);
    assert.ok(shed.length >= 4, `only ${shed.length} low requests shed`);
    for (const answer of shed) {
      assert.equal(answer.code, 'SWY_ERR_ADMISSION_SHED' satisfies ErrorCode);
      assert.equal(answer.retryAfter, '1');
    }
    const metrics = (await getJson(client, `${gateway.url}/metrics`)).text;
    assert.ok(
      metricValue(metrics, 'switchyard_admission_shed_total', { priority: 'low', reason: 'displaced' }) > 0,
    );
    assert.equal(metricValue(metrics, 'switchyard_admission_shed_total', { priority: 'high' }), 0);
    // A full queue answers at once, long before the 2 s budget (and before one model call).
    const full = shed.filter((a) => a.ms < 2000);
    assert.equal(full.length, shed.length);
  } finally {
    await client.close();
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
  }
});

test('a request whose budget cannot cover the model latency is shed at once, not at its timeout', async () => {
  const runtime = await startRuntime({ args: ['--added-latency-ms', '120'] });
  const gateway = await startGateway(
    fraudGatewayConfig([runtime.url], {
      model: { admission: { max_concurrency: 1, max_queue: 50 }, budget_ms: 1000 },
    }),
  );
  const client = createClient(64);
  const body = decisionBody(fraudRows(1)[0]!, 'u-1');
  try {
    const warm = await postJson(client, `${gateway.url}/v1/decisions/fraud`, body, {
      'x-api-key': 'sk-switchyard-demo',
    });
    assert.equal(warm.status, 200);
    // One slot, a queue of 10 callers who each allow 200 ms: only the first one or two fit.
    const answers = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const started = performance.now();
        const r = await postJson(client, `${gateway.url}/v1/decisions/fraud`, body, {
          'x-api-key': 'sk-switchyard-demo',
          'x-request-timeout-ms': '200',
        });
        return { status: r.status, ms: performance.now() - started };
      }),
    );
    const shed = answers.filter((a) => a.status === 503);
    assert.ok(shed.length >= 5, `statuses ${answers.map((a) => a.status).join(',')}`);
    const times = shed.map((a) => a.ms).sort((a, b) => a - b);
    // Shed when the remaining budget stops covering ~120 ms: well before the caller's 200 ms.
    assert.ok(
      times[Math.floor(times.length / 2)]! < 150,
      `median shed answer after ${times[Math.floor(times.length / 2)]} ms`,
    );
  } finally {
    await client.close();
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
  }
});
