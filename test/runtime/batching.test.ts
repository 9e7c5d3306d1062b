import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { createClient, getJson, metricValue, postJson } from '../harness/http.js';
import { editModelConfig } from '../harness/repository.js';
import { copyRepository, startRuntime } from '../harness/runtime.js';

const client = createClient(64);
after(() => client.close());

/** Sends 64 single-row requests at once; returns how many session.run calls and rows served them. */
async function burstOf64(url: string): Promise<{ runs: number; rows: number }> {
  const labels = { model: 'fraud', version: '1' };
  const before = (await getJson(client, `${url}/metrics`)).text;
  const rows = fraudRows(64, 3);
  const answers = await Promise.all(
    rows.map((row) => postJson(client, `${url}/v2/models/fraud/versions/1/infer`, fraudRequest([row]))),
  );
  assert.ok(answers.every((a) => a.status === 200));
  const afterText = (await getJson(client, `${url}/metrics`)).text;
  const delta = (name: string) => metricValue(afterText, name, labels) - metricValue(before, name, labels);
  return {
    runs: delta('switchyard_runtime_batch_size_count'),
    rows: delta('switchyard_runtime_batch_size_sum'),
  };
}

test('64 concurrent single-row requests run in far fewer session.run calls', async () => {
  const runtime = await startRuntime();
  try {
    // Open the 64 connections first, so the burst measures batching rather than connection set-up.
    await burstOf64(runtime.url);
    const { runs, rows } = await burstOf64(runtime.url);
    assert.equal(rows, 64);
    assert.ok(runs <= 16, `64 requests took ${runs} session.run calls`);
  } finally {
    assert.equal(await runtime.stop(), 0);
  }
});

test('with max_batch_size 0 every request runs alone', async () => {
  const repository = await copyRepository(['fraud']);
  await editModelConfig(repository.dir, 'fraud', (config) => {
    config.max_batch_size = 0;
  });
  const runtime = await startRuntime({ repository: repository.dir });
  try {
    const { runs, rows } = await burstOf64(runtime.url);
    assert.equal(rows, 64);
    assert.equal(runs, 64);
    // Batching off lifts the row limit: a many-row request still runs, as one session.run.
    const big = await postJson(
      client,
      `${runtime.url}/v2/models/fraud/versions/1/infer`,
      fraudRequest(fraudRows(100)),
    );
    assert.equal(big.status, 200, big.text);
    assert.match(String(big.headers['server-timing']), /batch;desc="100"/);
    // Without a row limit the shape alone bounds nothing: a 100-byte body claiming 10^10 rows is
    // refused by counting its values before anything is allocated for the shape (it was a 500,
    // "Invalid typed array length"; at 10^8 rows it was 3.2 GB allocated).
    const claimed = await postJson(client, `${runtime.url}/v2/models/fraud/versions/1/infer`, {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [1e10, 8], data: fraudRows(1)[0] }],
    });
    assert.equal(claimed.status, 400, claimed.text);
    assert.match(claimed.text, /8 values for shape \[10000000000, 8\], which needs 80000000000/);
  } finally {
    assert.equal(await runtime.stop(), 0);
    await repository.remove();
  }
});
