import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { fraudRows } from '../harness/fraud.js';
import { healthClient, inferenceClient } from '../harness/grpc.js';
import { grpcPortOf, startRuntime } from '../harness/runtime.js';

test('SIGTERM with gRPC calls in flight: not ready at once, every call answered, exit 0, then no more calls', async () => {
  // Each answer is held 800 ms, so the calls are still in flight when the signal arrives.
  const runtime = await startRuntime({
    grpc: true,
    args: ['--added-latency-ms', '800', '--drain-delay-ms', '300'],
  });
  const client = inferenceClient(`127.0.0.1:${grpcPortOf(runtime)}`);
  const health = healthClient(`127.0.0.1:${grpcPortOf(runtime)}`);
  const rows = fraudRows(1);
  const request = {
    model_name: 'fraud',
    model_version: '1',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], contents: { fp32_contents: rows.flat() } }],
  };
  try {
    assert.deepEqual((await client.call('ServerReady', {})).response, { ready: true });
    const calls = Promise.all(Array.from({ length: 8 }, () => client.call('ModelInfer', request)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exit = runtime.stop('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(
      (await client.call('ServerReady', {})).response,
      { ready: false },
      'ServerReady turns false as soon as SIGTERM arrives',
    );
    assert.deepEqual(
      (await health.call('Check', {})).response,
      { status: 'NOT_SERVING' },
      'so does the health check',
    );

    const results = await calls;
    assert.deepEqual(
      results.map((r) => r.code),
      new Array(8).fill(Status.OK),
      results.map((r) => r.error?.details).join('; '),
    );
    assert.equal(await exit, 0);
    const stopped = runtime.logs.find((l) => l.msg === 'runtime stopped');
    assert.ok(stopped, 'no "runtime stopped" line');
    assert.equal(stopped.finished, true);
    assert.equal(stopped.accepted, 8);
    assert.equal(stopped.answered, 8);

    const refused = await client.call('ServerLive', {}, { deadlineMs: 2000 });
    assert.equal(refused.code, Status.UNAVAILABLE);
  } finally {
    client.close();
    health.close();
    await runtime.stop('SIGKILL');
  }
});
