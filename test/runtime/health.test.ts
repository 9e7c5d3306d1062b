import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createClient, getJson } from '../harness/http.js';
import {
  LiveServerResponse,
  MetadataServerResponse,
  ReadyModelResponse,
  ReadyServerResponse,
  assertFits,
} from '../harness/oip-schemas.js';
import { startSwitchyard, waitFor, type StartedProcess } from '../harness/process.js';
import { editModelConfig } from '../harness/repository.js';
import { copyRepository, startRuntime } from '../harness/runtime.js';
import { OIP_EXTENSIONS, SWITCHYARD_VERSION } from '../../src/shared/server-metadata.js';

/**
 * The runtime's health and server metadata bodies, checked against the Open Inference Protocol
 * REST document's schemas (test/harness/oip-schemas.ts), and what "ready" means when models fail.
 */

/** A runtime on `repository` that is not waited on to turn ready: it may never. */
async function startUnready(repository: string): Promise<StartedProcess> {
  const runtime = await startSwitchyard(
    ['runtime', '--repository', repository, '--host', '127.0.0.1', '--port', '0'],
    { env: { LOG_LEVEL: 'info' } },
  );
  // Every version has loaded or failed once this line is out.
  await waitFor('the runtime finished loading', async () =>
    runtime.logs.some((l) => l.msg === 'runtime ready'),
  );
  return runtime;
}

test('runtime: health, readiness and server metadata bodies follow the protocol', async () => {
  const client = createClient(4);
  const runtime = await startRuntime();
  try {
    const live = await getJson(client, `${runtime.url}/v2/health/live`);
    assert.equal(live.status, 200);
    assertFits(LiveServerResponse, live.body, 'live');
    assert.deepEqual(live.body, { live: true });

    const ready = await getJson(client, `${runtime.url}/v2/health/ready`);
    assert.equal(ready.status, 200);
    assertFits(ReadyServerResponse, ready.body, 'ready');
    assert.deepEqual(ready.body, { ready: true });

    for (const path of ['/v2', '/v2/']) {
      const metadata = await getJson(client, `${runtime.url}${path}`);
      assert.equal(metadata.status, 200, path);
      assertFits(MetadataServerResponse, metadata.body, path);
      assert.deepEqual(metadata.body, {
        name: 'switchyard-onnx',
        version: SWITCHYARD_VERSION,
        extensions: [...OIP_EXTENSIONS],
      });
    }

    for (const path of ['/v2/models/fraud/ready', '/v2/models/fraud/versions/2/ready']) {
      const model = await getJson(client, `${runtime.url}${path}`);
      assert.equal(model.status, 200, path);
      assertFits(ReadyModelResponse, model.body, path);
      assert.deepEqual(model.body, { name: 'fraud', ready: true });
    }
  } finally {
    await client.close();
    assert.equal(await runtime.stop(), 0);
  }
});

test('runtime: a runtime whose only model failed its checks is live but never ready', async () => {
  const client = createClient(4);
  const repository = await copyRepository(['fraud']);
  try {
    // Every version's checksum is wrong: the model is in the repository, with no version ready.
    await editModelConfig(repository.dir, 'fraud', (config) => {
      for (const version of Object.values(config.versions as Record<string, { sha256: string }>))
        version.sha256 = '0'.repeat(64);
    });
    const runtime = await startUnready(repository.dir);
    try {
      const ready = await getJson(client, `${runtime.url}/v2/health/ready`);
      assert.equal(ready.status, 503);
      assertFits(ReadyServerResponse, ready.body, 'ready');
      assert.deepEqual(ready.body, { ready: false });
      const model = await getJson(client, `${runtime.url}/v2/models/fraud/ready`);
      assert.equal(model.status, 400);
      assertFits(ReadyModelResponse, model.body, 'model ready');
      assert.deepEqual(model.body, { name: 'fraud', ready: false });
      const live = await getJson(client, `${runtime.url}/v2/health/live`);
      assert.deepEqual([live.status, live.body], [200, { live: true }]);
    } finally {
      assert.equal(await runtime.stop(), 0);
    }

    // Its config fails validation: the repository serves no model at all (`models: []`).
    await writeFile(join(repository.dir, 'fraud', 'config.yaml'), 'name: fraud\nmax_batch_size: -3\n');
    const empty = await startUnready(repository.dir);
    try {
      assert.ok(empty.logs.some((l) => l.msg === 'model not loaded'));
      const ready = await getJson(client, `${empty.url}/v2/health/ready`);
      assert.deepEqual([ready.status, ready.body], [503, { ready: false }]);
    } finally {
      assert.equal(await empty.stop(), 0);
    }
  } finally {
    await client.close();
    await repository.remove();
  }
});
