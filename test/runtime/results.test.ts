import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { Agent } from 'undici';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { createClient, postJson } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { DEMO_REPOSITORY, startRuntime } from '../harness/runtime.js';

let runtime: StartedProcess;
let client: Agent;
before(async () => {
  runtime = await startRuntime();
  client = createClient();
});
after(async () => {
  await client.close();
  assert.equal(await runtime.stop(), 0);
});

type Outputs = { outputs: { name: string; data: number[] }[] };

test('fraud: every version answers exactly what an in-process session.run gives on the same rows', async () => {
  const rows = fraudRows(40, 99);
  for (const version of ['1', '2', '3']) {
    const session = await ort.InferenceSession.create(join(DEMO_REPOSITORY, 'fraud', version, 'model.onnx'));
    const expected = await session.run({
      features: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 8]),
    });
    // Half the rows in one request, the rest one by one and concurrently, so batching splits them.
    const [first, ...singles] = await Promise.all([
      postJson(
        client,
        `${runtime.url}/v2/models/fraud/versions/${version}/infer`,
        fraudRequest(rows.slice(0, 20)),
      ),
      ...rows
        .slice(20)
        .map((row) =>
          postJson(client, `${runtime.url}/v2/models/fraud/versions/${version}/infer`, fraudRequest([row])),
        ),
    ]);
    const served = [
      ...(first!.body as Outputs).outputs[0]!.data,
      ...singles.map((r) => (r.body as Outputs).outputs[0]!.data[0]!),
    ];
    assert.deepEqual(served, Array.from(expected.score!.data as Float32Array), `version ${version}`);
    await session.release();
  }
});

test('textdir: the convolutional model answers what session.run gives', async () => {
  const require = createRequire(import.meta.url);
  const packageDir = join(require.resolve('onnxruntime-node'), '..', '..', '..', '@gutenye', 'ocr-models');
  const session = await ort.InferenceSession.create(
    await readFile(join(packageDir, 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx')),
  );
  const size = 3 * 48 * 192;
  const data = Float32Array.from({ length: 2 * size }, (_, i) => Math.sin(i / 97));
  const expected = await session.run({ x: new ort.Tensor('float32', data, [2, 3, 48, 192]) });
  const response = await postJson(client, `${runtime.url}/v2/models/textdir/infer`, {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3, 48, 192], data: Array.from(data) }],
  });
  assert.equal(response.status, 200, response.text);
  const output = (response.body as Outputs).outputs[0]!;
  assert.equal(output.name, 'softmax_0.tmp_0');
  const want = Array.from(expected['softmax_0.tmp_0']!.data as Float32Array);
  assert.equal(output.data.length, 4);
  output.data.forEach((value, i) => assert.ok(Math.abs(value - want[i]!) < 1e-6, `${value} vs ${want[i]}`));
  await session.release();
});
