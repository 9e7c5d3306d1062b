import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { editModelConfig } from '../harness/repository.js';
import { copyRepository, startRuntime } from '../harness/runtime.js';
import { createHash } from 'node:crypto';

const client = createClient();
let runtime: StartedProcess;
let repository: Awaited<ReturnType<typeof copyRepository>>;
const garbage = Buffer.from('this is not an ONNX model');

before(async () => {
  repository = await copyRepository(['fraud']);
  // Version 2: the file does not match its checksum. Version 3: the checksum matches a file
  // that ONNX Runtime cannot load.
  await writeFile(join(repository.dir, 'fraud', '3', 'model.onnx'), garbage);
  await editModelConfig(repository.dir, 'fraud', (config) => {
    const versions = config.versions as Record<string, { sha256: string }>;
    versions['2']!.sha256 = '0'.repeat(64);
    versions['3']!.sha256 = createHash('sha256').update(garbage).digest('hex');
  });
  runtime = await startRuntime({ repository: repository.dir });
});
after(async () => {
  await client.close();
  assert.equal(await runtime.stop(), 0);
  await repository.remove();
});

test('a checksum mismatch or a broken file leaves that version not ready, with the reason', async () => {
  const { body } = await getJson(client, `${runtime.url}/v2/models/fraud`);
  const states = (
    body as { parameters: { version_states: Record<string, { state: string; reason?: string }> } }
  ).parameters.version_states;
  assert.equal(states['1']!.state, 'ready');
  assert.equal(states['2']!.state, 'unavailable');
  assert.match(states['2']!.reason!, /checksum mismatch/);
  assert.equal(states['3']!.state, 'unavailable');
  assert.match(states['3']!.reason!, /no execution provider could open the model/);
  assert.equal((await getJson(client, `${runtime.url}/v2/models/fraud/versions/2/ready`)).status, 400);
  assert.equal((await getJson(client, `${runtime.url}/v2/models/fraud/versions/3/ready`)).status, 400);
  const refused = await postJson(
    client,
    `${runtime.url}/v2/models/fraud/versions/2/infer`,
    fraudRequest(fraudRows(1)),
  );
  assert.equal(refused.status, 503);
  assert.match((refused.body as { error: string }).error, /version "2" is not ready: checksum mismatch/);
  assert.ok(
    runtime.logs.some(
      (l) => l.msg === 'model version not loaded' && l.version === '2' && /checksum/.test(String(l.reason)),
    ),
  );
});

test('the other versions serve, and the server is ready', async () => {
  assert.equal((await getJson(client, `${runtime.url}/v2/health/ready`)).status, 200);
  const served = await postJson(
    client,
    `${runtime.url}/v2/models/fraud/versions/1/infer`,
    fraudRequest(fraudRows(1)),
  );
  assert.equal(served.status, 200);
  // Without a version, the latest *ready* one answers.
  const latest = await postJson(client, `${runtime.url}/v2/models/fraud/infer`, fraudRequest(fraudRows(1)));
  assert.equal((latest.body as { model_version: string }).model_version, '1');
});
