import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { stringify } from 'yaml';
import { runValidate } from '../../src/cli/validate.js';
import { AUTH, fraudGatewayConfig, startGateway, type GatewayUnderTest } from '../harness/gateway.js';
import { createClient, getJson } from '../harness/http.js';

/**
 * The CLI and a gateway whose environment fills a `${VAR}` differently (as `switchyard dev
 * --runtime-port` does for SWITCHYARD_RUNTIME_URL) agree on the file's hash; the settings hash
 * differs, and each says which it is (issue 23.3).
 */
const client = createClient(2);
let gateway: GatewayUnderTest | undefined;

after(async () => {
  await gateway?.stop();
  await client.close();
});

test('the file hash the CLI prints is the one a gateway with another environment reports', async () => {
  const config = fraudGatewayConfig(['${SWY_HASH_TEST_RUNTIME_URL:-http://127.0.0.1:9}']);
  gateway = await startGateway(stringify(config), {
    env: { SWY_HASH_TEST_RUNTIME_URL: 'http://127.0.0.1:8' },
  });
  const served = (await getJson(client, `${gateway.url}/admin/config`, AUTH)).body as {
    hash: string;
    file_hash: string;
    config: { upstreams: { onnx: { endpoints: string[] } } };
  };
  assert.deepEqual(
    served.config.upstreams.onnx.endpoints,
    ['http://127.0.0.1:8'],
    'the gateway used its environment',
  );

  let printed = '';
  const code = await runValidate(
    ['--config', gateway.configPath],
    { write: (t: string) => (printed += t) },
    { write: () => {} },
    {},
  );
  assert.equal(code, 0);
  const [, hash, fileHash] = /hash ([0-9a-f]{16}) file_hash ([0-9a-f]{16})/.exec(printed) ?? [];
  assert.equal(fileHash, served.file_hash, 'the same file: the same file_hash');
  assert.notEqual(hash, served.hash, 'the settings differ (another runtime URL): so does the settings hash');
});
