import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { RotatingFileSink } from '../../src/telemetry/prediction-log/file-sink.js';
import { createPredictionLogMetrics } from '../../src/telemetry/prediction-log/metrics.js';
import { RecordWriter } from '../../src/telemetry/prediction-log/writer.js';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway, upstreamHealthy } from '../harness/gateway.js';
import { createClient, getJson, metricValue, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { startRuntime } from '../harness/runtime.js';

/**
 * A disk that is full without root or a small filesystem: every write to /dev/full fails with
 * ENOSPC (Linux's full(4)). The log's path is a link to it in a temp dir, so a rotation would
 * move the link, never the device.
 */
async function fullDiskPath(t: TestContext): Promise<string | undefined> {
  if (!existsSync('/dev/full')) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-full-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'predictions.jsonl');
  await symlink('/dev/full', path);
  return path;
}

test('writer on a full disk: nothing counted as written, what was taken is kept up to the cap, the rest dropped, all accounted for', async (t) => {
  const path = await fullDiskPath(t);
  if (!path) return t.skip('no /dev/full');
  const registry = new Registry();
  const warnings: { msg: string; fields: Record<string, unknown> }[] = [];
  const logger = {
    info() {},
    warn: (fields: object, msg: string) => warnings.push({ msg, fields: fields as Record<string, unknown> }),
    error() {},
  };
  const writer: RecordWriter = new RecordWriter({
    sink: new RotatingFileSink({ path, rotateBytes: 1 << 20, keepFiles: 3, logger }),
    capacity: 100,
    batchRecords: 20,
    flushMs: 1,
    retryMs: 10,
    metrics: createPredictionLogMetrics(registry, () => writer.buffered),
    logger,
  });
  const count = async (name: string, labels: Record<string, string> = {}) =>
    (await registry.getSingleMetric(name)!.get()).values
      .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
      .reduce((sum, v) => sum + v.value, 0);

  const total = 300;
  for (let i = 0; i < total; i++) writer.write({ kind: 'prediction', n: i });
  await new Promise((resolve) => setTimeout(resolve, 200)); // many retries, every one refused
  assert.equal(await count('switchyard_prediction_log_records_total', { outcome: 'ok' }), 0);
  const retried = await count('switchyard_prediction_log_records_total', {
    sink: 'file',
    outcome: 'retried',
  });
  assert.ok(retried >= 40, `retried ${retried}: the refused batch was tried again and again`);
  assert.equal(writer.buffered, 100, 'the buffer holds what it took, up to its capacity');
  assert.equal(
    await count('switchyard_prediction_log_dropped_total', { reason: 'buffer_full' }),
    total - 100,
  );
  const failing = warnings.filter((w) => w.msg.startsWith('prediction log: file writes failing'));
  assert.equal(failing.length, 1, warnings.map((w) => w.msg).join('\n'));
  assert.match(String(failing[0]!.fields.err), /ENOSPC/);

  await writer.close();
  const lost = await count('switchyard_prediction_log_records_total', { outcome: 'error' });
  assert.equal(lost, 100, 'still refused at close: counted as lost');
  assert.equal(
    (await count('switchyard_prediction_log_records_total', { outcome: 'ok' })) +
      lost +
      (await count('switchyard_prediction_log_dropped_total')),
    total,
    'every record written, lost or dropped: none unaccounted for',
  );
});

test('a gateway whose prediction log disk is full keeps answering, counts no record as written, and logs the failure once', async (t) => {
  const path = await fullDiskPath(t);
  if (!path) return t.skip('no /dev/full');
  const runtime = await startRuntime();
  const client = createClient(8);
  const gateway = await startGateway({
    ...fraudGatewayConfig([runtime.url]),
    prediction_log: { path, buffer_records: 50 },
  });
  try {
    await upstreamHealthy(client, gateway.url);
    const rows = fraudRows(8, 11);
    const total = 120;
    await runBounded(total, 8, async (i) => {
      const response = await postJson(
        client,
        `${gateway.url}/v1/decisions/fraud`,
        decisionBody(rows[i % rows.length]!, `user-${i}`),
        AUTH,
      );
      assert.equal(response.status, 200, response.text);
    });
    await new Promise((resolve) => setTimeout(resolve, 300)); // the writer's batches meet the full disk
    const metrics = (await getJson(client, `${gateway.url}/metrics`)).text;
    const records = (labels: Record<string, string>) =>
      metricValue(metrics, 'switchyard_prediction_log_records_total', labels);
    assert.equal(records({ outcome: 'ok' }), 0, 'nothing counted as written');
    assert.ok(records({ sink: 'file', outcome: 'retried' }) > 0);
    assert.equal(metricValue(metrics, 'switchyard_prediction_log_buffer_records'), 50);
    assert.equal(
      metricValue(metrics, 'switchyard_prediction_log_dropped_total', { reason: 'buffer_full' }),
      total - 50,
    );
    const failing = gateway.logs.filter((l) =>
      String(l.msg).startsWith('prediction log: file writes failing'),
    );
    assert.equal(failing.length, 1);

    assert.equal(await gateway.stop(), 0);
    const lost = gateway.logs.find((l) => String(l.msg).includes('refused until the log closed are lost'));
    assert.equal(lost?.records, 50, 'the records held at exit are reported lost');
  } finally {
    await client.close();
    await gateway.stop();
    assert.equal(await runtime.stop(), 0);
  }
});
