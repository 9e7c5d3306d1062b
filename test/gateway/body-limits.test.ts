import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import { sendExpectingContinue } from '../harness/expect-continue.js';
import {
  AUTH,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

// Issue 19: body limits an image model's user does not trip on (the default is the runtime's
// 32 MiB), a model's own limit (models.M.limits.body_bytes), and a body declared too large
// refused by its content-length before it is sent, also to a client that expects 100-continue.
const FRAUD_LIMIT = 4096;
const client = createClient();
let runtime: StartedProcess;
let gateway: GatewayUnderTest;

before(async () => {
  runtime = await startRuntime();
  const config = fraudGatewayConfig([runtime.url], { model: { limits: { body_bytes: FRAUD_LIMIT } } });
  gateway = await startGateway({
    ...config,
    models: {
      ...config.models,
      textdir: {
        budget_ms: 20_000,
        routing: { key: 'header:x-user-id', salt: 'textdir-test' },
        variants: [{ name: 'v1', upstream: 'onnx', model: 'textdir', version: '1', weight: 100 }],
      },
    },
  });
  await upstreamHealthy(client, gateway.url);
});
after(async () => {
  await client.close();
  assert.equal(await gateway.stop(), 0);
  assert.equal(await runtime.stop(), 0);
});

/** An OIP request of `rows` textdir images of random pixels, written as a client's json.dumps would (full precision). */
function textdirBody(rows: number): string {
  const data = Array.from({ length: rows * 3 * 48 * 192 }, () => Math.random() * 2 - 1);
  return JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 3, 48, 192], data }] });
}

const fraudBody = (padding = 0) =>
  JSON.stringify({
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: fraudRows(1, 7)[0] }],
    ...(padding > 0 ? { parameters: { padding: 'x'.repeat(padding) } } : {}),
  });

test('a two-row textdir request in JSON (over 1 MB) passes the default limit', async () => {
  const body = textdirBody(2);
  assert.ok(body.length > 1_000_000, `${body.length} bytes`);
  const response = await postJson(client, `${gateway.url}/v2/models/textdir/infer`, body, AUTH);
  assert.equal(response.status, 200, response.text);
  const outputs = (response.body as { outputs: { shape: number[] }[] }).outputs;
  assert.deepEqual(outputs[0]?.shape, [2, 2]);
});

test("a model's own limit refuses a larger body on every form of its URL, and the answer says the limit", async () => {
  const small = await postJson(client, `${gateway.url}/v2/models/fraud/infer`, fraudBody(), AUTH);
  assert.equal(small.status, 200, small.text);
  const large = fraudBody(FRAUD_LIMIT);
  for (const path of ['/v2/models/fraud/infer', '/v2/models/fraud/infer?form=fastify']) {
    const response = await postJson(client, `${gateway.url}${path}`, large, AUTH);
    assert.equal(response.status, 413, `${path}: ${response.text}`);
    assert.match(response.text, /SWY_ERR_HTTP_BODY_TOO_LARGE/);
    assert.match(response.text, new RegExp(`over ${FRAUD_LIMIT} bytes`));
  }
});

test('Expect: 100-continue: a body declared too large gets 413 before a byte of it is sent', async () => {
  const body = Buffer.from(fraudBody(FRAUD_LIMIT));
  const exchange = await sendExpectingContinue(
    gateway.url,
    '/v2/models/fraud/infer',
    { ...AUTH, 'content-type': 'application/json' },
    body,
  );
  assert.equal(exchange.continued, false, 'no 100 Continue');
  assert.equal(exchange.bodyBytesSent, 0);
  assert.equal(exchange.final?.status, 413);
  assert.match(exchange.final?.body ?? '', /SWY_ERR_HTTP_BODY_TOO_LARGE/);
  assert.equal(exchange.closed, true, 'the connection is closed');
});

test('Expect: 100-continue: a body within the limit gets 100 Continue, then its answer', async () => {
  const body = Buffer.from(fraudBody());
  const exchange = await sendExpectingContinue(
    gateway.url,
    '/v2/models/fraud/infer',
    { ...AUTH, 'content-type': 'application/json' },
    body,
  );
  assert.equal(exchange.continued, true);
  assert.equal(exchange.bodyBytesSent, body.length);
  assert.equal(exchange.final?.status, 200, exchange.final?.body);
  assert.ok(JSON.parse(exchange.final?.body ?? '{}').outputs);
});
