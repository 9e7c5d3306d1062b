import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, postJson, wireError } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorCode } from '../../src/errors.js';

// The model endpoints are answered on node:http in their plain form and by Fastify otherwise
// (src/http/model-server.ts): both doors must give the same answers, and the plain one must frame
// bodies as Fastify did.
const client = createClient();
let runtime: StartedProcess;
let gateway: GatewayUnderTest;
const BODY_LIMIT = 4096;
const body = decisionBody(fraudRows(1, 77)[0]!, 'u-forms-1');

before(async () => {
  runtime = await startRuntime();
  gateway = await startGateway({ ...fraudGatewayConfig([runtime.url]), limits: { body_bytes: BODY_LIMIT } });
  await upstreamHealthy(client, gateway.url);
});
after(async () => {
  await client.close();
  assert.equal(await gateway.stop(), 0);
  assert.equal(await runtime.stop(), 0);
});

test('a model URL with a query string or escaped characters gets the same answer as the plain one', async () => {
  const answers = [];
  for (const path of ['/v1/decisions/fraud', '/v1/decisions/fraud?explain=1', '/v1/decisions/fr%61ud']) {
    const response = await postJson(client, `${gateway.url}${path}`, body, AUTH);
    assert.equal(response.status, 200, `${path}: ${response.text}`);
    assert.match(String(response.headers['server-timing']), /total;dur=/, path);
    assert.equal(response.headers['content-type'], 'application/json; charset=utf-8', path);
    const { decision, score, variant } = response.body as {
      decision: string;
      score: number;
      variant: string;
    };
    answers.push({ decision, score, variant, version: response.headers['x-switchyard-model-version'] });
  }
  assert.deepEqual(answers[1], answers[0]);
  assert.deepEqual(answers[2], answers[0]);
});

test('a body over the limit sent in chunks gets its 413 whole, then its connection closed', async () => {
  // 500 kB: the gateway answers while the client is still sending, which must not turn the 413
  // into a broken pipe (the gateway reads and drops the rest before it closes).
  async function* chunks() {
    yield Buffer.from('{"user_id": "u-forms-2", "pad": "');
    for (let i = 0; i < 500; i++) yield Buffer.from('x'.repeat(1000));
    yield Buffer.from('"}');
  }
  const response = await request(`${gateway.url}/v1/decisions/fraud`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH, 'x-request-id': 'forms-413' },
    body: Readable.from(chunks()),
  });
  const text = await response.body.text();
  assert.equal(response.statusCode, 413, text);
  assert.equal(wireError(text)?.code, 'SWY_ERR_HTTP_BODY_TOO_LARGE' satisfies ErrorCode);
  assert.equal(response.headers.connection, 'close');
  assert.equal(response.headers['x-request-id'], 'forms-413');
});

test('an empty body with a JSON content type is malformed JSON; without a body the input is invalid', async () => {
  const empty = await postJson(client, `${gateway.url}/v2/models/fraud/infer`, '', AUTH);
  assert.equal(empty.status, 400, empty.text);
  assert.match(empty.text, /SWY_ERR_HTTP_MALFORMED_JSON/);
  const none = await request(`${gateway.url}/v1/decisions/fraud`, { method: 'POST', headers: AUTH });
  const text = await none.body.text();
  assert.equal(none.statusCode, 400, text);
  assert.match(text, /SWY_ERR_INPUT_INVALID/);
});

test('the gateway still answers after the refusals above', async () => {
  const response = await postJson(client, `${gateway.url}/v1/decisions/fraud`, body, AUTH);
  assert.equal(response.status, 200, response.text);
});
