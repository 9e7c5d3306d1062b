import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway, upstreamHealthy } from '../harness/gateway.js';
import { createClient, getJson, metricValue, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { waitFor } from '../harness/process.js';
import { REDIS_NOT_FOUND, startRedis, type StartedRedis } from '../harness/redis.js';
import { startRuntime } from '../harness/runtime.js';
import { readJsonl, type LoggedRecord } from './prediction-log-harness.js';

const STREAM = 'test:predictions';

test('Redis stream sink: records arrive by XADD; with Redis stopped they spill to the file, counted, none lost', async (t) => {
  let redis: StartedRedis;
  try {
    redis = await startRedis();
  } catch (error) {
    if ((error as Error).message === REDIS_NOT_FOUND) return t.skip(REDIS_NOT_FOUND);
    throw error;
  }
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-plog-'));
  const path = join(dir, 'spill.jsonl');
  const runtime = await startRuntime();
  const gateway = await startGateway({
    ...fraudGatewayConfig([runtime.url]),
    state: { redis_url: redis.url },
    prediction_log: { path, redis_stream: { key: STREAM, maxlen: 10000 } },
  });
  const client = createClient(16);
  const reader = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const rows = fraudRows(32, 3);
  const send = (prefix: string, count: number) =>
    runBounded(count, 8, async (i) => {
      const id = `${prefix}-${i}`;
      const response = await postJson(
        client,
        `${gateway.url}/v1/decisions/fraud`,
        decisionBody(rows[i % rows.length]!, `user-${i}`),
        { ...AUTH, 'x-request-id': id },
      );
      assert.equal(response.status, 200, response.text);
      return { id, decisionId: (response.body as { decision_id: string }).decision_id };
    });
  const streamed = async (): Promise<LoggedRecord[]> => {
    if (reader.status !== 'ready') await reader.connect();
    const entries = await reader.xrange(STREAM, '-', '+');
    return entries.map(([, fields]) => {
      assert.equal(fields[0], 'data');
      return JSON.parse(fields[1]!) as LoggedRecord;
    });
  };
  const metric = async (labels: Record<string, string>) =>
    metricValue(
      (await getJson(client, `${gateway.url}/metrics`)).text,
      'switchyard_prediction_log_records_total',
      labels,
    );
  try {
    await upstreamHealthy(client, gateway.url);

    // Redis up: every record in the stream, none in the file.
    const first = await send('up', 40);
    const inStream = await waitFor('40 records in the stream', async () => {
      const found = await streamed();
      return found.length >= 40 ? found : undefined;
    });
    assert.deepEqual(
      inStream.map((r) => [r.request_id, r.decision_id]).sort(),
      first.map((a) => [a.id, a.decisionId]).sort(),
    );
    assert.deepEqual(await readJsonl(path), [], 'nothing spilled while Redis was up');
    assert.equal(await metric({ sink: 'redis', outcome: 'ok' }), 40);

    // Redis gone: the gateway keeps answering, and the records go to the local file.
    reader.disconnect();
    await redis.stop();
    const second = await send('down', 40);
    const spilled = await waitFor('40 records in the spill file', async () => {
      const found = await readJsonl(path);
      return found.length >= 40 ? found : undefined;
    });
    assert.deepEqual(
      spilled.map((r) => [r.request_id, r.decision_id]).sort(),
      second.map((a) => [a.id, a.decisionId]).sort(),
    );
    assert.equal(await metric({ sink: 'redis', outcome: 'spilled' }), 40);
    assert.equal(await metric({ sink: 'file', outcome: 'ok' }), 40);
    assert.equal(await metric({ outcome: 'error' }), 0, 'nothing lost');
    // Log lines are written in the background (src/shared/log-sink.ts): the warning arrives soon, not at once.
    await waitFor('the spill is logged', () =>
      gateway.logs.some((l) => l.msg === 'prediction log: Redis unreachable; records go to the file instead'),
    );

    // Redis back (empty): once the log's connection is up again, records go to the stream again.
    await redis.restart();
    const probes: { id: string }[] = [];
    await waitFor(
      'records in the stream again',
      async () => {
        probes.push(...(await send(`probe${probes.length}`, 1)));
        return (await streamed()).length > 0;
      },
      10_000,
      100,
    );
    const third = await send('back', 20);
    await waitFor('the last 20 in the stream', async () => {
      const ids = new Set((await streamed()).map((r) => r.request_id));
      return third.every((a) => ids.has(a.id));
    });

    // Every request answered since the restart (which emptied the stream) is in exactly one place.
    assert.equal(await gateway.stop(), 0);
    const everywhere = [...(await streamed()), ...(await readJsonl(path))].map((r) => r.request_id);
    const answered = [...second, ...probes, ...third].map((a) => a.id);
    for (const id of answered)
      assert.equal(everywhere.filter((r) => r === id).length, 1, `${id} recorded once`);
    t.diagnostic(`${probes.length} probe requests until the stream took records again`);
  } finally {
    reader.disconnect();
    await client.close();
    await gateway.stop();
    assert.equal(await runtime.stop(), 0);
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
