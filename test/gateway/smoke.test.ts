import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway, upstreamHealthy } from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import { startRuntime } from '../harness/runtime.js';

test('a decision through a real gateway and runtime', async () => {
  const runtime = await startRuntime();
  const gateway = await startGateway(fraudGatewayConfig([runtime.url]));
  const client = createClient();
  try {
    await upstreamHealthy(client, gateway.url);
    const response = await postJson(
      client,
      `${gateway.url}/v1/decisions/fraud`,
      decisionBody(fraudRows(1)[0]!, 'u-1'),
      AUTH,
    );
    assert.equal(response.status, 200, response.text);
    const body = response.body as {
      decision: string;
      variant: string;
      model_version: string;
      request_id: string;
    };
    assert.ok(['approve', 'review', 'decline'].includes(body.decision));
    assert.equal(response.headers['x-switchyard-variant'], body.variant);
    assert.equal(response.headers['x-request-id'], body.request_id);
  } finally {
    await client.close();
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
  }
});
