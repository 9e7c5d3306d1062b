import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY,
  FEATURE_NAMES,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
} from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import { waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { readJsonl } from './prediction-log-harness.js';
import type { ErrorCode } from '../../src/errors.js';

test('log_inputs with log_redact: named features (and tensor columns) masked; off by default; keys and features never in the request log', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-plog-'));
  const path = join(dir, 'predictions.jsonl');
  const runtime = await startRuntime();
  const config = fraudGatewayConfig([runtime.url], {
    model: { log_inputs: true, log_redact: ['transaction_amount', 'distance_from_home_km'] },
  });
  const plain = { ...config.models.fraud, log_inputs: false, log_redact: [] };
  const gateway = await startGateway({
    ...config,
    models: { ...config.models, plain },
    prediction_log: { path },
  });
  const client = createClient();
  try {
    await upstreamHealthy(client, gateway.url);
    const [row, other] = fraudRows(2, 99) as [number[], number[]];
    const decision = await postJson(
      client,
      `${gateway.url}/v1/decisions/fraud`,
      decisionBody(row, 'u-1'),
      AUTH,
    );
    const tensors = await postJson(
      client,
      `${gateway.url}/v2/models/fraud/infer`,
      fraudRequest([row, other]),
      {
        ...AUTH,
        'x-user-id': 'u-2',
      },
    );
    const notLogged = await postJson(
      client,
      `${gateway.url}/v1/decisions/plain`,
      decisionBody(row, 'u-3'),
      AUTH,
    );
    const unknown = await postJson(client, `${gateway.url}/v1/decisions/nope`, decisionBody(row), AUTH);
    const unauthorised = await postJson(client, `${gateway.url}/v1/decisions/fraud`, decisionBody(row), {
      authorization: 'Bearer sk-wrong-key-123',
    });
    assert.deepEqual(
      [decision.status, tensors.status, notLogged.status, unknown.status, unauthorised.status],
      [200, 200, 200, 404, 401],
    );
    const all = await waitFor('five records', async () => {
      const found = await readJsonl(path);
      return found.length >= 5 ? found : undefined;
    });
    assert.equal(all.length, 5, 'one record per request');
    const byId = (response: { headers: Record<string, unknown> }) =>
      all.find((r) => r.request_id === response.headers['x-request-id'])!;

    // The decision: named features in contract order, the redacted ones masked.
    const expected = Object.fromEntries(
      FEATURE_NAMES.map((name, i) => [
        name,
        name === 'transaction_amount' || name === 'distance_from_home_km' ? '[redacted]' : row[i],
      ]),
    );
    const decided = byId(decision);
    assert.deepEqual(decided.inputs, expected);
    assert.equal(decided.decision_id, (decision.body as { decision_id: string }).decision_id);
    assert.equal(decided.decision, (decision.body as { decision: string }).decision);
    assert.equal(decided.score, (decision.body as { score: number }).score);
    assert.equal(decided.tenant, 'demo');
    assert.match(String(decided.input_hash), /^[0-9a-f]{64}$/);

    // The tensors: columns 0 and 7 of each row masked, the rest as sent.
    const tensorRecord = byId(tensors);
    const [tensor] = tensorRecord.inputs as { name: string; shape: number[]; data: unknown[] }[];
    assert.deepEqual(tensor!.shape, [2, 8]);
    assert.deepEqual(
      tensor!.data,
      [row, other].flatMap((r) => r.map((v, i) => (i === 0 || i === 7 ? '[redacted]' : v))),
    );
    assert.equal(tensorRecord.decision_id, null);
    assert.deepEqual(
      Object.keys(tensorRecord.outputs as object),
      ['score'],
      'small outputs are kept, by name',
    );

    // log_inputs off (the default): no inputs, but the same input hash for the same question.
    const plainRecord = byId(notLogged);
    assert.ok(!('inputs' in plainRecord));
    assert.equal(plainRecord.input_hash, decided.input_hash);

    // Refusals are records too, with their status and code.
    assert.deepEqual(
      [byId(unknown).status, byId(unknown).code, byId(unauthorised).status, byId(unauthorised).code],
      [404, 'SWY_ERR_MODEL_UNKNOWN' satisfies ErrorCode, 401, 'SWY_ERR_AUTH_UNKNOWN_KEY' satisfies ErrorCode],
    );
    assert.ok(!JSON.stringify(all).includes('sk-wrong-key-123'), 'keys never reach a record');

    // The request log: one info line per request, never a key or a raw feature value.
    const lines = await waitFor('five request lines', () => {
      const found = gateway.logs.filter((l) => l.msg === 'request');
      return found.length >= 5 ? found : undefined;
    });
    assert.equal(lines.length, 5);
    assert.deepEqual(lines.map((l) => l.status).sort(), [200, 200, 200, 401, 404]);
    for (const line of lines) {
      assert.equal(line.level, 30);
      for (const field of ['request_id', 'model', 'endpoint', 'status', 'duration_ms', 'fallback'])
        assert.ok(field in line, `${field} in ${JSON.stringify(line)}`);
    }
    const everything = JSON.stringify(gateway.logs);
    // Small integers (hour_of_day 8) also occur in pids and durations; the fractional values can't.
    const features = [...row, ...other].map(String).filter((v) => /\.\d{3,}/.test(v));
    assert.ok(features.length >= 6);
    for (const secret of [DEMO_KEY, 'sk-wrong-key-123', ...features])
      assert.ok(!everything.includes(secret), `"${secret}" is in the gateway's log`);
  } finally {
    await client.close();
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  }
});
