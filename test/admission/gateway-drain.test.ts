import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway } from '../harness/gateway.js';
import { createClient, getJson } from '../harness/http.js';
import { waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

test('gateway SIGTERM: not ready at once, new requests 503, running ones finish with 200, exit 0', async () => {
  // Slow calls, so requests are running when the signal arrives.
  const runtime = await startRuntime({ args: ['--added-latency-ms', '300'] });
  const gateway = await startGateway(fraudGatewayConfig([runtime.url], { model: { budget_ms: 2000 } }), {
    args: ['--drain-delay-ms', '500'],
  });
  const client = createClient(32);
  const body = JSON.stringify(decisionBody(fraudRows(1)[0]!, 'u-1'));
  const send = async () => {
    try {
      const response = await request(`${gateway.url}/v1/decisions/fraud`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...AUTH },
        dispatcher: client,
      });
      const text = await response.body.text();
      return { status: response.statusCode, text };
    } catch (error) {
      return { status: 0, text: String(error) };
    }
  };
  try {
    const running = Array.from({ length: 10 }, send);
    // Signalled only once all ten are inside the pipeline: on a busy machine 100 ms may not do.
    await waitFor(
      'ten requests running',
      async () => {
        const stats = await getJson(client, `${gateway.url}/admin/stats`, AUTH);
        return (stats.body as { models: { fraud: { in_flight: number } } }).models.fraud.in_flight === 10;
      },
      10_000,
      10,
    );
    const exit = gateway.stop('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ready = await request(`${gateway.url}/readyz`, { dispatcher: client });
    assert.equal(ready.statusCode, 503);
    await ready.body.dump();
    const late = await send();
    assert.equal(late.status, 503, late.text);
    assert.match(late.text, /SWY_ERR_GATEWAY_DRAINING/);
    const answers = await Promise.all(running);
    assert.deepEqual(
      answers.map((a) => a.status),
      new Array(10).fill(200),
      'every request running at the signal finished',
    );
    assert.equal(await exit, 0);
    assert.ok(gateway.logs.some((l) => l.msg === 'gateway stopped' && l.finished === true));
  } finally {
    await client.close();
    await gateway.stop();
    assert.equal(await runtime.stop(), 0);
  }
});
