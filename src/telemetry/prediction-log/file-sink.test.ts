import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { RotatingFileSink, type LogFile } from './file-sink.js';
import { createPredictionLogMetrics } from './metrics.js';
import { RecordWriter } from './writer.js';

/**
 * A real file on a disk with `free` bytes left, as ext4 behaves when it fills: a write takes what
 * fits (a short write, no error), the next one fails with ENOSPC. Raising `free` is freeing space.
 */
function fillingDisk() {
  const disk = { free: Infinity, truncateFails: false, opens: 0 };
  const openFile = async (path: string): Promise<LogFile> => {
    disk.opens++;
    const file = await open(path, 'a+');
    return {
      async write(buffer, offset, length) {
        if (disk.free <= 0)
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        const taken = Math.min(length, disk.free);
        const { bytesWritten } = await file.write(buffer, offset, taken);
        disk.free -= bytesWritten;
        return { bytesWritten };
      },
      read: (buffer, offset, length, position) => file.read(buffer, offset, length, position),
      stat: () => file.stat(),
      async truncate(length) {
        if (disk.truncateFails) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
        await file.truncate(length);
      },
      close: () => file.close(),
    };
  };
  return { disk, openFile };
}

/** `count` JSON lines of exactly `bytes` bytes each, newline included. */
const records = (from: number, count: number, bytes = 100) =>
  Array.from({ length: count }, (_, i) => {
    const head = JSON.stringify({ n: from + i, pad: '' });
    return JSON.stringify({ n: from + i, pad: 'x'.repeat(bytes - 1 - head.length) });
  });

async function tempFile(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-sink-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'p.jsonl');
}

/** The file's lines: every one must be whole JSON (no cut line anywhere, the last included). */
async function wholeLines(path: string): Promise<number[]> {
  const text = await readFile(path, 'utf8');
  if (text === '') return [];
  assert.ok(text.endsWith('\n'), `the file ends mid-line: …${JSON.stringify(text.slice(-40))}`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => (JSON.parse(line) as { n: number }).n);
}

test('a short write then ENOSPC: only whole lines count as written, the cut one is cut off, the rest come back', async (t) => {
  const path = await tempFile(t);
  const { disk, openFile } = fillingDisk();
  const sink = new RotatingFileSink({ path, rotateBytes: 1 << 20, keepFiles: 2, open: openFile });
  t.after(() => sink.close());

  assert.deepEqual(await sink.write(records(0, 5)), []);
  disk.free = 1050; // ten lines and half of the eleventh
  const batch = records(5, 30);
  const refused = await sink.write(batch);
  assert.deepEqual(refused, batch.slice(10), 'the records after the last whole line come back, in order');
  assert.deepEqual(
    await wholeLines(path),
    Array.from({ length: 15 }, (_, i) => i),
    'whole lines only',
  );

  disk.free = Infinity;
  assert.deepEqual(await sink.write(refused), []);
  assert.deepEqual(
    await wholeLines(path),
    Array.from({ length: 35 }, (_, i) => i),
    'each record once, in order',
  );
});

test('when the cut line cannot be cut at once, the next write removes it before appending', async (t) => {
  const path = await tempFile(t);
  const { disk, openFile } = fillingDisk();
  const sink = new RotatingFileSink({ path, rotateBytes: 1 << 20, keepFiles: 2, open: openFile });
  t.after(() => sink.close());

  disk.free = 250;
  disk.truncateFails = true;
  const refused = await sink.write(records(0, 4));
  assert.equal(refused.length, 2);
  assert.equal((await readFile(path, 'utf8')).length, 250, 'the cut line is still there');

  disk.free = Infinity;
  disk.truncateFails = false;
  assert.deepEqual(await sink.write(refused), []);
  assert.deepEqual(await wholeLines(path), [0, 1, 2, 3]);
});

test('a file left ending mid-line (a crash during a write) is repaired when opened', async (t) => {
  const path = await tempFile(t);
  await writeFile(path, `${records(0, 2).join('\n')}\n{"n":2,"pad":"xx`);
  const sink = new RotatingFileSink({ path, rotateBytes: 1 << 20, keepFiles: 2 });
  t.after(() => sink.close());
  assert.deepEqual(await sink.write(records(3, 1)), []);
  assert.deepEqual(await wholeLines(path), [0, 1, 3]);
});

test('the writer on a disk that fills: what it counts is what the file holds whole; the rest is retried once there is room', async (t) => {
  const path = await tempFile(t);
  const { disk, openFile } = fillingDisk();
  const registry = new Registry();
  const writer: RecordWriter = new RecordWriter({
    sink: new RotatingFileSink({ path, rotateBytes: 1 << 20, keepFiles: 2, open: openFile }),
    capacity: 2000,
    batchRecords: 100,
    flushMs: 1,
    retryMs: 60_000, // no retry of its own during the test: close() tries at once
    metrics: createPredictionLogMetrics(registry, () => writer.buffered),
    logger: { warn() {}, error() {} },
  });
  const count = async (name: string, labels: Record<string, string> = {}) =>
    (await registry.getSingleMetric(name)!.get()).values
      .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
      .reduce((sum, v) => sum + v.value, 0);

  disk.free = 250 * 100 + 37; // 250 lines and part of the next
  for (const line of records(0, 1000)) writer.write(JSON.parse(line) as object);
  await writer.flush(); // returns once a batch was refused: the rest waits for a retry
  const written = await wholeLines(path);
  assert.deepEqual(
    written,
    Array.from({ length: 250 }, (_, i) => i),
  );
  assert.equal(await count('switchyard_prediction_log_records_total', { outcome: 'ok' }), written.length);
  // The refused batch's 50 records after the cut; the batches behind it were not tried.
  assert.equal(await count('switchyard_prediction_log_records_total', { outcome: 'retried' }), 50);
  assert.equal(writer.buffered, 750, 'kept, not lost');

  disk.free = Infinity;
  await writer.close();
  assert.deepEqual(
    await wholeLines(path),
    Array.from({ length: 1000 }, (_, i) => i),
    'every record once, in order',
  );
  assert.equal(await count('switchyard_prediction_log_records_total', { outcome: 'ok' }), 1000);
  assert.equal(await count('switchyard_prediction_log_records_total', { outcome: 'error' }), 0);
  assert.equal(await count('switchyard_prediction_log_dropped_total'), 0);
});
