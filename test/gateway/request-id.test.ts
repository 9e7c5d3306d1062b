import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { AUTH, fraudGatewayConfig, startGateway } from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import { waitFor } from '../harness/process.js';

// A request without an x-request-id gets one id, decided once on arrival: the x-request-id of its
// answer, its request log line and its prediction record all carry it, on either front door
// (the fast path, and Fastify for a URL with a query string) and whether the pipeline refused it,
// the gateway refused it before any pipeline, or its body was refused.
test('a failed request without x-request-id carries one id in its answer, log line and record', async () => {
  const gateway = await startGateway(fraudGatewayConfig(['http://127.0.0.1:9']));
  const client = createClient();
  try {
    const asked = {
      unauthenticated: await postJson(client, `${gateway.url}/v1/decisions/fraud`, { features: {} }),
      unknownModel: await postJson(client, `${gateway.url}/v1/decisions/nope`, { features: {} }, AUTH),
      throughFastify: await postJson(client, `${gateway.url}/v1/decisions/fraud?via=fastify`, {
        features: {},
      }),
    };
    const ids = Object.fromEntries(
      Object.entries(asked).map(([name, answer]) => [name, answer.headers['x-request-id']]),
    );
    assert.equal(asked.unauthenticated.status, 401);
    assert.equal(asked.unknownModel.status, 404);
    assert.equal(asked.throughFastify.status, 401);
    for (const [name, id] of Object.entries(ids)) assert.match(String(id), /^[\w.:@-]{1,128}$/, name);
    assert.equal(new Set(Object.values(ids)).size, 3, 'each request its own id');

    const lines = await waitFor('a request line each', () => {
      const found = gateway.logs.filter((l) => l.msg === 'request');
      return found.length >= 3 ? found : undefined;
    });
    const records = await waitFor('a prediction record each', async () => {
      const text = await readFile(join(gateway.dir, 'predictions.jsonl'), 'utf8').catch(() => '');
      const found = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { request_id: string });
      return found.length >= 3 ? found : undefined;
    });
    for (const [name, id] of Object.entries(ids)) {
      assert.equal(lines.filter((l) => l.request_id === id).length, 1, `${name}: its log line`);
      assert.equal(records.filter((r) => r.request_id === id).length, 1, `${name}: its record`);
    }

    // Refused before the handler (no log line, no record): the answer still carries an id.
    const malformed = await postJson(client, `${gateway.url}/v1/decisions/fraud`, '{"features":', AUTH);
    assert.equal(malformed.status, 400);
    assert.match(String(malformed.headers['x-request-id']), /^[\w.:@-]{1,128}$/);
  } finally {
    await client.close();
    assert.equal(await gateway.stop(), 0);
  }
});
