import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { inferenceClient, type InferenceClient } from '../harness/grpc.js';
import { createClient, getJson, metricValue } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { editModelConfig } from '../harness/repository.js';
import { copyRepository, grpcPortOf, startRuntime } from '../harness/runtime.js';

// textdir is the slow model (a convolutional network); one row per run makes a queue build up.
const http = createClient();
let grpc: InferenceClient;
let runtime: StartedProcess;
let repository: Awaited<ReturnType<typeof copyRepository>>;
const image = {
  model_name: 'textdir',
  inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192] }],
  raw_input_contents: [Buffer.from(new Float32Array(3 * 48 * 192).fill(0.5).buffer)],
};
const labels = { model: 'textdir', version: '1', protocol: 'grpc' };

async function requestsBy(outcome: string): Promise<number> {
  const { text } = await getJson(http, `${runtime.url}/metrics`);
  return metricValue(text, 'switchyard_runtime_requests_total', { ...labels, outcome });
}

before(async () => {
  repository = await copyRepository(['textdir']);
  await editModelConfig(repository.dir, 'textdir', (config) => {
    config.max_batch_size = 1;
    config.intra_op_threads = 1;
    config.dynamic_batching = { max_queue_delay_us: 0, max_queue_size: 2 };
  });
  runtime = await startRuntime({ repository: repository.dir, grpc: true });
  grpc = inferenceClient(`127.0.0.1:${grpcPortOf(runtime)}`);
});
after(async () => {
  grpc.close();
  await http.close();
  assert.equal(await runtime.stop(), 0);
  await repository.remove();
});

test('a full queue answers RESOURCE_EXHAUSTED at once; what was queued is served', async () => {
  const results = await Promise.all(Array.from({ length: 60 }, () => grpc.call('ModelInfer', image)));
  const full = results.filter((r) => r.code === Status.RESOURCE_EXHAUSTED);
  const served = results.filter((r) => r.code === Status.OK);
  assert.equal(full.length + served.length, 60, `codes: ${results.map((r) => r.code).join(',')}`);
  assert.ok(full.length > 0, 'no call found the queue full');
  assert.ok(served.length >= 3, `only ${served.length} served`);
  for (const result of full) assert.match(result.error!.details, /queue is full \(2 requests\)/);
  assert.equal(await requestsBy('queue_full'), full.length);
});

test('a budget that runs out in the queue is DEADLINE_EXCEEDED from the runtime; the call never runs', async () => {
  const ran = await requestsBy('ok');
  const expired = await requestsBy('deadline');
  // No gRPC deadline, so no client timer: this DEADLINE_EXCEEDED is the runtime's own answer.
  // (The gRPC deadline becomes the same budget: grpc/call-headers.test.ts.)
  const result = await grpc.call('ModelInfer', image, { metadata: { 'x-request-timeout-ms': '0' } });
  assert.equal(result.code, Status.DEADLINE_EXCEEDED);
  assert.match(result.error!.details, /deadline passed while it was queued; it did not run/);
  assert.equal(await requestsBy('deadline'), expired + 1);
  assert.equal(await requestsBy('ok'), ran);
});
