import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Agent } from 'undici';
import { createClient, getJson, postJson } from '../harness/http.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { copyRepository, startRuntime } from '../harness/runtime.js';
import { writeTypesModel, TYPES_MODEL_DATATYPES } from '../harness/models.js';
import type { StartedProcess } from '../harness/process.js';

describe('runtime: Open Inference Protocol v2 endpoints', () => {
  let runtime: StartedProcess;
  let client: Agent;
  let repository: Awaited<ReturnType<typeof copyRepository>>;

  before(async () => {
    repository = await copyRepository(['fraud']);
    await writeTypesModel(repository.dir);
    runtime = await startRuntime({ repository: repository.dir });
    client = createClient();
  });
  after(async () => {
    await client.close();
    assert.equal(await runtime.stop(), 0);
    await repository.remove();
  });

  test('health: live and ready answer 200 with their bodies (test/runtime/health.test.ts has more)', async () => {
    assert.deepEqual((await getJson(client, `${runtime.url}/v2/health/live`)).body, { live: true });
    assert.deepEqual((await getJson(client, `${runtime.url}/v2/health/ready`)).body, { ready: true });
  });

  test('server metadata', async () => {
    const { status, body } = await getJson(client, `${runtime.url}/v2`);
    assert.equal(status, 200);
    assert.deepEqual(body, { name: 'switchyard-onnx', version: '0.1.0', extensions: ['binary_tensor_data'] });
  });

  test('model metadata lists versions, tensors with the batch dimension, and the provider in use', async () => {
    const { status, body } = await getJson(client, `${runtime.url}/v2/models/fraud`);
    assert.equal(status, 200);
    assert.deepEqual(body, {
      name: 'fraud',
      versions: ['1', '2', '3'],
      platform: 'onnxruntime',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }],
      outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
      parameters: {
        max_batch_size: 64,
        version_states: {
          '1': { state: 'ready', provider: 'cpu' },
          '2': { state: 'ready', provider: 'cpu' },
          '3': { state: 'ready', provider: 'cpu' },
        },
      },
    });
    const version = await getJson(client, `${runtime.url}/v2/models/fraud/versions/2`);
    assert.equal(version.status, 200);
    assert.deepEqual((version.body as { versions: string[] }).versions, ['2']);
  });

  test('model and version readiness', async () => {
    assert.equal((await getJson(client, `${runtime.url}/v2/models/fraud/ready`)).status, 200);
    assert.equal((await getJson(client, `${runtime.url}/v2/models/fraud/versions/1/ready`)).status, 200);
    assert.equal((await getJson(client, `${runtime.url}/v2/models/fraud/versions/9/ready`)).status, 404);
    assert.equal((await getJson(client, `${runtime.url}/v2/models/nope/ready`)).status, 404);
  });

  test('infer: outputs, the request id echoed, the version served, server-timing', async () => {
    const rows = fraudRows(3);
    const response = await postJson(
      client,
      `${runtime.url}/v2/models/fraud/versions/1/infer`,
      fraudRequest(rows, 'req-42'),
    );
    assert.equal(response.status, 200, response.text);
    const body = response.body as {
      id: string;
      model_name: string;
      model_version: string;
      outputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
    };
    assert.equal(body.id, 'req-42');
    assert.equal(body.model_name, 'fraud');
    assert.equal(body.model_version, '1');
    assert.equal(body.outputs.length, 1);
    assert.equal(body.outputs[0]!.name, 'score');
    assert.equal(body.outputs[0]!.datatype, 'FP32');
    assert.deepEqual(body.outputs[0]!.shape, [3, 1]);
    assert.ok(body.outputs[0]!.data.every((score) => score >= 0 && score <= 1));
    const timing = String(response.headers['server-timing']);
    assert.match(timing, /^queue;dur=\d+\.\d+, infer;dur=\d+\.\d+, batch;desc="\d+"$/);
  });

  test('infer without a version serves the latest ready one', async () => {
    const response = await postJson(
      client,
      `${runtime.url}/v2/models/fraud/infer`,
      fraudRequest(fraudRows(1)),
    );
    assert.equal(response.status, 200);
    assert.equal((response.body as { model_version: string }).model_version, '3');
  });

  test('infer with FP32, FP64, INT32, INT64 and BOOL tensors, nested data, and outputs selection', async () => {
    const data: Record<string, unknown[]> = {
      FP32: [
        [0.5, -1.25],
        [3, 4],
      ],
      FP64: [
        [1e-300, 2.5],
        [-7, 0.1],
      ],
      INT32: [
        [2147483647, -2147483648],
        [0, 5],
      ],
      INT64: [
        [9007199254740991, -42],
        [1, 2],
      ],
      BOOL: [
        [true, false],
        [false, true],
      ],
    };
    const request = {
      inputs: TYPES_MODEL_DATATYPES.map((d) => ({
        name: `in_${d.toLowerCase()}`,
        datatype: d,
        shape: [2, 2],
        data: data[d],
      })),
    };
    const all = await postJson(client, `${runtime.url}/v2/models/types/infer`, request);
    assert.equal(all.status, 200, all.text);
    const outputs = (
      all.body as { outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[] }
    ).outputs;
    assert.equal(outputs.length, 5);
    for (const d of TYPES_MODEL_DATATYPES) {
      const output = outputs.find((o) => o.name === `out_${d.toLowerCase()}`)!;
      assert.equal(output.datatype, d);
      assert.deepEqual(output.shape, [2, 2]);
      const expected = (data[d] as unknown[][]).flat();
      if (d === 'FP32')
        assert.deepEqual(
          output.data,
          expected.map((v) => Math.fround(v as number)),
        );
      else assert.deepEqual(output.data, expected, d);
    }
    const some = await postJson(client, `${runtime.url}/v2/models/types/infer`, {
      ...request,
      outputs: [{ name: 'out_bool' }],
    });
    assert.equal(some.status, 200);
    assert.deepEqual(
      (some.body as { outputs: { name: string }[] }).outputs.map((o) => o.name),
      ['out_bool'],
    );
  });

  test('metrics: requests, queue and compute durations, batch size, provider', async () => {
    const response = await getJson(client, `${runtime.url}/metrics`);
    assert.equal(response.status, 200);
    for (const name of [
      'switchyard_runtime_requests_total{model="fraud",version="1",outcome="ok",protocol="http"}',
      'switchyard_runtime_queue_duration_seconds_count{model="fraud",version="1"}',
      'switchyard_runtime_compute_duration_seconds_count{model="fraud",version="1"}',
      'switchyard_runtime_batch_size_count{model="fraud",version="1"}',
      'switchyard_runtime_queue_depth{model="fraud",version="1"} 0',
      'switchyard_runtime_provider_info{model="fraud",version="1",provider="cpu"} 1',
      'switchyard_runtime_model_ready{model="fraud",version="2"} 1',
    ]) {
      assert.ok(response.text.includes(name), `missing ${name}`);
    }
  });
});
