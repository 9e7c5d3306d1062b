import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { RotatingFileSink } from '../../src/telemetry/prediction-log/file-sink.js';
import { createPredictionLogMetrics } from '../../src/telemetry/prediction-log/metrics.js';
import { RecordWriter, type RecordSink } from '../../src/telemetry/prediction-log/writer.js';

const quiet = { warn() {}, error() {} };

/** A sink that holds every batch until released, like a disk or Redis that stopped answering. */
function stalledSink(name = 'file') {
  const lines: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const sink: RecordSink = {
    name,
    async write(batch) {
      await released;
      lines.push(...batch);
      return [];
    },
    close: async () => {},
  };
  return { sink, lines, release };
}

async function counter(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const metric = await registry.getSingleMetric(name)!.get();
  return metric.values
    .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

test('buffer full: new records are dropped and counted, the caller never waits, what was taken is written', async (t) => {
  const registry = new Registry();
  const { sink, lines, release } = stalledSink();
  const writer: RecordWriter = new RecordWriter({
    sink,
    capacity: 10,
    batchRecords: 4,
    flushMs: 1,
    metrics: createPredictionLogMetrics(registry, () => writer.buffered),
    logger: quiet,
  });
  const took: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const t0 = performance.now();
    // write() is synchronous and returns nothing to wait on: the stalled sink cannot hold it up.
    assert.equal(writer.write({ kind: 'prediction', request_id: `r-${i}` }), undefined);
    took.push(performance.now() - t0);
    // Let the writer start its (stalled) batches part-way, as it would under live traffic.
    if (i === 5 || i === 2000) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  took.sort((a, b) => a - b);
  const p99 = took[Math.floor(took.length * 0.99)]!;
  t.diagnostic(
    `write() with the sink stalled: p50 ${(took[2500]! * 1000).toFixed(1)} µs, p99 ${(p99 * 1000).toFixed(1)} µs`,
  );
  assert.ok(p99 < 1, `p99 of write() was ${p99.toFixed(3)} ms`);
  assert.equal(writer.buffered, 10, 'the buffer holds exactly its capacity');
  assert.equal(
    await counter(registry, 'switchyard_prediction_log_dropped_total', { reason: 'buffer_full' }),
    4990,
  );

  release();
  await writer.flush();
  assert.equal(lines.length, 10);
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as { request_id: string }).request_id),
    Array.from({ length: 10 }, (_, i) => `r-${i}`),
    'the first ten, in order',
  );
  assert.equal(await counter(registry, 'switchyard_prediction_log_records_total', { outcome: 'ok' }), 10);
  assert.equal(writer.buffered, 0);

  await writer.close();
  writer.write({ kind: 'prediction', request_id: 'late' });
  assert.equal(await counter(registry, 'switchyard_prediction_log_dropped_total', { reason: 'closed' }), 1);
});

test('refused records spill to the second sink and are counted; a record that cannot be built is counted, the rest written', async () => {
  const registry = new Registry();
  const primary: string[] = [];
  const spilled: string[] = [];
  let refuse = false;
  const redis: RecordSink = {
    name: 'redis',
    async write(batch) {
      if (refuse) return batch;
      primary.push(...batch);
      return [];
    },
    close: async () => {},
  };
  const file: RecordSink = {
    name: 'file',
    async write(batch) {
      spilled.push(...batch);
      return [];
    },
    close: async () => {},
  };
  const warnings: string[] = [];
  const writer = new RecordWriter({
    sink: redis,
    spill: file,
    capacity: 1000,
    metrics: createPredictionLogMetrics(registry),
    logger: { warn: (_obj, msg) => warnings.push(msg), error() {} },
  });
  for (let i = 0; i < 30; i++) writer.write({ n: i });
  await writer.flush();
  refuse = true;
  for (let i = 30; i < 50; i++) writer.write({ n: i });
  writer.write(() => {
    throw new Error('bad record');
  });
  await writer.close();
  assert.equal(primary.length, 30);
  assert.equal(spilled.length, 20);
  assert.deepEqual(
    [...primary, ...spilled].map((l) => (JSON.parse(l) as { n: number }).n),
    Array.from({ length: 50 }, (_, i) => i),
  );
  const records = (labels: Record<string, string>) =>
    counter(registry, 'switchyard_prediction_log_records_total', labels);
  assert.equal(await records({ sink: 'redis', outcome: 'ok' }), 30);
  assert.equal(await records({ sink: 'redis', outcome: 'spilled' }), 20);
  assert.equal(await records({ sink: 'file', outcome: 'ok' }), 20);
  assert.equal(await records({ sink: 'redis', outcome: 'error' }), 1, 'the record that could not be built');
  assert.deepEqual(
    warnings,
    ['a prediction record could not be built; it is lost'],
    'a spill is the sink’s news (its outage log), not the writer’s',
  );
});

test('throughput: records per second the writer sustains into the rotating file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-plog-'));
  try {
    const registry = new Registry();
    const path = join(dir, 'p.jsonl');
    const writer = new RecordWriter({
      sink: new RotatingFileSink({ path, rotateBytes: 1 << 30, keepFiles: 2 }),
      capacity: 10_000,
      metrics: createPredictionLogMetrics(registry),
      logger: quiet,
    });
    // A realistic decision record (~450 bytes), written from a loop that yields like a server does.
    const record = (i: number) => ({
      kind: 'prediction',
      time: new Date().toISOString(),
      request_id: `req-${i}`,
      decision_id: '3f1c2a9e-8c4d-4a51-9b7e-5d2f0c1e6a77',
      tenant: 'checkout',
      model: 'fraud',
      endpoint: 'decision',
      variant: 'v1',
      version: '1',
      input_hash: 'a'.repeat(64),
      outputs: { score: [0.1234] },
      decision: 'approve',
      score: 0.1234,
      status: 200,
      code: null,
      latency_ms: 1.234,
      fallback: null,
    });
    const total = 100_000;
    const started = performance.now();
    for (let i = 0; i < total; i++) {
      // Offer as fast as the writer takes them: its ceiling, not the producer's.
      while (writer.buffered >= 5000) await new Promise((resolve) => setImmediate(resolve));
      writer.write(() => record(i));
    }
    await writer.close();
    const seconds = (performance.now() - started) / 1000;
    const dropped = await counter(registry, 'switchyard_prediction_log_dropped_total');
    const written = (await readFile(path, 'utf8')).split('\n').filter(Boolean).length;
    t.diagnostic(
      `${total} records in ${seconds.toFixed(2)} s: ${Math.round(total / seconds)} records/s, ${dropped} dropped`,
    );
    assert.equal(written + dropped, total, 'every record written or counted as dropped');
    assert.equal(dropped, 0);
    assert.ok(total / seconds > 20_000, 'far above what one gateway answers');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('records the sink refuses are kept and tried again after retryMs; close() counts what is still refused as lost', async () => {
  const registry = new Registry();
  const stored: string[] = [];
  let refuse = true;
  let tries = 0;
  const file: RecordSink = {
    name: 'file',
    async write(batch) {
      tries++;
      if (!refuse) {
        stored.push(...batch);
        return [];
      }
      // Part of the batch went in whole, like a disk that filled during the write.
      stored.push(...batch.slice(0, 2));
      refuse = false;
      return batch.slice(2);
    },
    close: async () => {},
  };
  const errors: string[] = [];
  const writer: RecordWriter = new RecordWriter({
    sink: file,
    capacity: 100,
    flushMs: 1,
    retryMs: 50,
    metrics: createPredictionLogMetrics(registry, () => writer.buffered),
    logger: { warn() {}, error: (_obj, msg) => errors.push(msg) },
  });
  const records = (labels: Record<string, string>) =>
    counter(registry, 'switchyard_prediction_log_records_total', labels);
  for (let i = 0; i < 10; i++) writer.write({ n: i });
  const waited = performance.now();
  await writer.flush();
  assert.equal(tries, 1, 'flush stops at a refused batch');
  assert.equal(writer.buffered, 8);
  assert.equal(await records({ outcome: 'retried' }), 8);
  for (let i = 10; i < 12; i++) writer.write({ n: i });
  while (writer.buffered > 0 && performance.now() - waited < 5000)
    await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(performance.now() - waited >= 45, 'the retry waited retryMs, even with new records waiting');
  assert.deepEqual(
    stored.map((l) => (JSON.parse(l) as { n: number }).n),
    Array.from({ length: 12 }, (_, i) => i),
    'in order, each once',
  );
  assert.equal(await records({ outcome: 'ok' }), 12);

  // A sink that never recovers: close() tries once more, then counts the rest as lost.
  file.write = async (batch) => batch;
  for (let i = 0; i < 5; i++) writer.write({ n: i });
  await writer.close();
  assert.equal(await records({ outcome: 'error' }), 5);
  assert.equal(writer.buffered, 0);
  assert.equal(errors.length, 1, errors.join('\n'));
});
