import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import { sendExpectingContinue } from '../harness/expect-continue.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

// Issue 19: the runtime refuses a body declared larger than --max-body-bytes before it is sent,
// also to a client that expects 100-continue (Node would otherwise send the 100 itself).
const LIMIT = 4096;
let runtime: StartedProcess;

before(async () => {
  runtime = await startRuntime({ args: ['--max-body-bytes', String(LIMIT)] });
});
after(async () => {
  assert.equal(await runtime.stop(), 0);
});

const fraudBody = (padding = 0) =>
  JSON.stringify({
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: fraudRows(1, 7)[0] }],
    ...(padding > 0 ? { parameters: { padding: 'x'.repeat(padding) } } : {}),
  });

for (const path of ['/v2/models/fraud/infer', '/v2/models/fraud/versions/1/infer?form=fastify']) {
  test(`${path}: a body declared too large gets 413 before a byte of it is sent`, async () => {
    const exchange = await sendExpectingContinue(
      runtime.url,
      path,
      { 'content-type': 'application/json' },
      Buffer.from(fraudBody(LIMIT)),
    );
    assert.equal(exchange.continued, false, 'no 100 Continue');
    assert.equal(exchange.bodyBytesSent, 0);
    assert.equal(exchange.final?.status, 413);
    assert.deepEqual(JSON.parse(exchange.final?.body ?? '{}'), {
      error: `request body is larger than the limit of ${LIMIT} bytes`,
    });
  });

  test(`${path}: a body within the limit gets 100 Continue, then its answer`, async () => {
    const body = Buffer.from(fraudBody());
    const exchange = await sendExpectingContinue(
      runtime.url,
      path,
      { 'content-type': 'application/json' },
      body,
    );
    assert.equal(exchange.continued, true);
    assert.equal(exchange.bodyBytesSent, body.length);
    assert.equal(exchange.final?.status, 200, exchange.final?.body);
    assert.ok(JSON.parse(exchange.final?.body ?? '{}').outputs);
  });
}
