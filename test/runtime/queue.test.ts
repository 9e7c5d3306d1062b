import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient, getJson, metricValue, postJson } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { editModelConfig } from '../harness/repository.js';
import { copyRepository, startRuntime } from '../harness/runtime.js';

// textdir is the slow model (a convolutional network); one row per run makes a queue build up.
const client = createClient(64);
let runtime: StartedProcess;
let repository: Awaited<ReturnType<typeof copyRepository>>;
const image = {
  inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: new Array(3 * 48 * 192).fill(0.5) }],
};
const labels = { model: 'textdir', version: '1' };

before(async () => {
  repository = await copyRepository(['textdir']);
  await editModelConfig(repository.dir, 'textdir', (config) => {
    config.max_batch_size = 1;
    // One thread makes each run slower, so a burst fills the queue even on a busy machine.
    config.intra_op_threads = 1;
    config.dynamic_batching = { max_queue_delay_us: 0, max_queue_size: 2 };
  });
  runtime = await startRuntime({ repository: repository.dir });
});
after(async () => {
  await client.close();
  assert.equal(await runtime.stop(), 0);
  await repository.remove();
});

test('a full queue answers 503 at once; what was queued is served', async () => {
  const answers = await Promise.all(
    Array.from({ length: 100 }, () => postJson(client, `${runtime.url}/v2/models/textdir/infer`, image)),
  );
  const full = answers.filter((a) => a.status === 503);
  const served = answers.filter((a) => a.status === 200);
  assert.equal(full.length + served.length, 100);
  assert.ok(full.length > 0, 'no request found the queue full');
  assert.ok(served.length >= 3, `only ${served.length} served`);
  for (const answer of full)
    assert.match((answer.body as { error: string }).error, /queue is full \(2 requests\)/);
  const metrics = (await getJson(client, `${runtime.url}/metrics`)).text;
  assert.equal(
    metricValue(metrics, 'switchyard_runtime_requests_total', { ...labels, outcome: 'queue_full' }),
    full.length,
  );
});

test('a request whose deadline passes while queued is answered 504 and never runs', async () => {
  const before = (await getJson(client, `${runtime.url}/metrics`)).text;
  // Each may wait 2 ms, less than the runs queued ahead of it take.
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i)).then(() =>
        postJson(client, `${runtime.url}/v2/models/textdir/infer`, image, { 'x-request-timeout-ms': '2' }),
      ),
    ),
  );
  const late = answers.filter((a) => a.status === 504);
  const served = answers.filter((a) => a.status === 200);
  // The small queue may also be full now and then (503): that is the other test's subject.
  assert.ok(
    answers.every((a) => [200, 503, 504].includes(a.status)),
    answers.map((a) => a.text).join('\n'),
  );
  assert.ok(late.length > 0, 'no request expired in the queue');
  for (const answer of late)
    assert.match((answer.body as { error: string }).error, /deadline passed while it was queued/);
  const after = (await getJson(client, `${runtime.url}/metrics`)).text;
  const runs =
    metricValue(after, 'switchyard_runtime_batch_size_count', labels) -
    metricValue(before, 'switchyard_runtime_batch_size_count', labels);
  assert.equal(runs, served.length, 'an expired request ran');
});
