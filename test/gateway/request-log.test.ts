import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, DEMO_KEY, decisionBody, fraudGatewayConfig, startGateway } from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import { startRuntime } from '../harness/runtime.js';
import { waitFor } from '../harness/process.js';
import type { ErrorCode } from '../../src/errors.js';

test('one info line per request with id, model, variant, status, duration and fallback; no key, no features', async () => {
  const runtime = await startRuntime();
  const gateway = await startGateway(fraudGatewayConfig([runtime.url]));
  const client = createClient();
  try {
    const row = fraudRows(1, 4242)[0]!;
    const ok = await postJson(client, `${gateway.url}/v1/decisions/fraud`, decisionBody(row, 'u-7'), AUTH);
    const bad = await postJson(client, `${gateway.url}/v1/decisions/fraud`, { features: { nope: 1 } }, AUTH);
    assert.equal(ok.status, 200);
    assert.equal(bad.status, 400);
    const lines = await waitFor('two request lines', () => {
      const found = gateway.logs.filter((l) => l.msg === 'request');
      return found.length >= 2 ? found : undefined;
    });
    const okLine = lines.find((l) => l.request_id === ok.headers['x-request-id'])!;
    assert.equal(okLine.level, 30);
    assert.equal(okLine.model, 'fraud');
    assert.equal(okLine.endpoint, 'decision');
    assert.equal(okLine.variant, ok.headers['x-switchyard-variant']);
    assert.equal(okLine.status, 200);
    assert.equal(okLine.fallback, null);
    assert.equal(typeof okLine.duration_ms, 'number');
    const badLine = lines.find((l) => l.request_id === bad.headers['x-request-id'])!;
    assert.equal(badLine.status, 400);
    assert.equal(badLine.code, 'SWY_ERR_INPUT_INVALID' satisfies ErrorCode);
    const everything = JSON.stringify(gateway.logs);
    assert.ok(!everything.includes(DEMO_KEY), 'the API key is never logged');
    assert.ok(!everything.includes(String(row[0])), 'raw feature values are not logged');
  } finally {
    await client.close();
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
  }
});
