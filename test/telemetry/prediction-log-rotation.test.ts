import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runLog } from '../../src/cli/log.js';
import { RotatingFileSink } from '../../src/telemetry/prediction-log/file-sink.js';
import { lastLines, logFiles } from '../../src/telemetry/prediction-log/read.js';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway, upstreamHealthy } from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { readJsonl, runCli } from './prediction-log-harness.js';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

test('the file sink rotates by size: path, path.1, path.2 kept, older ones deleted, no line split or lost among those kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-plog-'));
  const path = join(dir, 'p.jsonl');
  try {
    const sink = new RotatingFileSink({ path, rotateBytes: 1000, keepFiles: 3 });
    const line = (i: number) => JSON.stringify({ n: i, pad: 'x'.repeat(80) }); // ~100 bytes
    for (let i = 0; i < 100; i += 7) {
      const batch = Array.from({ length: Math.min(7, 100 - i) }, (_, k) => line(i + k));
      assert.deepEqual(await sink.write(batch), []);
    }
    await sink.close();
    assert.deepEqual(await logFiles(path), [`${path}.2`, `${path}.1`, path]);
    assert.equal(await exists(`${path}.3`), false, 'keep_files counts the live file');
    const kept: number[] = [];
    for (const file of await logFiles(path)) {
      assert.ok((await stat(file)).size <= 1000, `${file} is over rotate_bytes`);
      kept.push(...(await readJsonl(file)).map((r) => (r as unknown as { n: number }).n));
    }
    assert.ok(kept.length >= 20, `only ${kept.length} lines kept`);
    assert.deepEqual(
      kept,
      Array.from({ length: kept.length }, (_, k) => 100 - kept.length + k),
      'the newest lines, in order, across the files',
    );
    assert.deepEqual(
      (await lastLines(await logFiles(path), 15)).map((l) => (JSON.parse(l) as { n: number }).n),
      Array.from({ length: 15 }, (_, k) => 85 + k),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('log tail --follow prints appended lines and follows a rotation until aborted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-plog-'));
  const path = join(dir, 'p.jsonl');
  try {
    await appendFile(path, '{"n":1}\n{"n":2}\n');
    let printed = '';
    const stop = new AbortController();
    const out = { write: (text: string) => (printed += text) };
    const running = runLog(['tail', '-n', '1', '--follow', '--file', path], out, out, {
      signal: stop.signal,
    });
    await waitFor('the last line', () => printed === '{"n":2}\n');
    await appendFile(path, '{"n":3}\n');
    await waitFor('an appended line', () => printed.endsWith('{"n":3}\n'));
    // Rotation as the sink does it: the last line lands just before the rename.
    await appendFile(path, '{"n":4}\n');
    await rename(path, `${path}.1`);
    await appendFile(path, '{"n":5}\n');
    await waitFor('lines across the rotation', () => printed.endsWith('{"n":5}\n'));
    stop.abort();
    assert.equal(await running, 0);
    assert.equal(printed, '{"n":2}\n{"n":3}\n{"n":4}\n{"n":5}\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a gateway with a small rotate_bytes: file, file.1, file.2 and no more; log stats and log tail read across them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-plog-'));
  const path = join(dir, 'predictions.jsonl');
  const runtime = await startRuntime();
  const gateway = await startGateway({
    ...fraudGatewayConfig([runtime.url]),
    prediction_log: { path, rotate_bytes: 8192, keep_files: 3 },
  });
  const client = createClient(8);
  const COUNT = 120;
  try {
    await upstreamHealthy(client, gateway.url);
    const rows = fraudRows(COUNT, 11);
    // One at a time, so records are written in request order and the newest are easy to name.
    const answers = await runBounded(COUNT, 1, async (i) => {
      const response = await postJson(
        client,
        `${gateway.url}/v1/decisions/fraud`,
        decisionBody(rows[i]!, `user-${i}`),
        { ...AUTH, 'x-request-id': `rot-${i}` },
      );
      assert.equal(response.status, 200, response.text);
      return response.body as { decision: string };
    });
    assert.equal(await gateway.stop(), 0); // flushes the log

    const files = await logFiles(path);
    assert.deepEqual(files, [`${path}.2`, `${path}.1`, path]);
    assert.equal(await exists(`${path}.3`), false);
    const perFile = await Promise.all(files.map(readJsonl));
    for (const [i, file] of files.entries()) {
      assert.ok((await stat(file)).size <= 8192, `${file} is over rotate_bytes`);
      assert.ok(perFile[i]!.length > 0);
    }
    const kept = perFile.flat();
    assert.ok(kept.length < COUNT, 'older files were deleted');
    assert.deepEqual(
      kept.map((r) => r.request_id),
      Array.from({ length: kept.length }, (_, k) => `rot-${COUNT - kept.length + k}`),
    );

    const stats = await runCli(['log', 'stats', '--model', 'fraud', '--file', path, '--json']);
    assert.equal(stats.code, 0, stats.stderr);
    const report = JSON.parse(stats.stdout) as {
      files: string[];
      requests: number;
      variants: { variant: string; requests: number; decisions: Record<string, number> }[];
    };
    assert.deepEqual(report.files, files);
    assert.equal(report.requests, kept.length, 'every kept record, not only the live file');
    const expected: Record<string, Record<string, number>> = {};
    for (const record of kept) {
      const variant = String(record.variant);
      const byDecision = (expected[variant] ??= {});
      byDecision[String(record.decision)] = (byDecision[String(record.decision)] ?? 0) + 1;
    }
    assert.deepEqual(Object.fromEntries(report.variants.map((v) => [v.variant, v.decisions])), expected);
    // The counted decisions are the ones the callers got.
    const keptAnswers = answers.slice(COUNT - kept.length).map((a) => a.decision);
    assert.deepEqual(
      kept.map((r) => r.decision),
      keptAnswers,
    );

    const tail = await runCli(['log', 'tail', '-n', '3', '--file', path]);
    assert.equal(tail.code, 0, tail.stderr);
    assert.deepEqual(
      tail.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { request_id: string }).request_id),
      [`rot-${COUNT - 3}`, `rot-${COUNT - 2}`, `rot-${COUNT - 1}`],
    );
    assert.ok((await readFile(path, 'utf8')).endsWith('\n'));
  } finally {
    await client.close();
    await gateway.stop();
    assert.equal(await runtime.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  }
});
