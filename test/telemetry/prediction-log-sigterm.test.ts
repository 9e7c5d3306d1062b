import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway, upstreamHealthy } from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { startRuntime } from '../harness/runtime.js';
import { readJsonl } from './prediction-log-harness.js';
import type { ErrorCode } from '../../src/errors.js';

const MAX_REQUESTS = 6000;

test('SIGTERM under load: after exit 0, every answered request has exactly one prediction record, none lost', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-plog-'));
  const path = join(dir, 'predictions.jsonl');
  // A little runtime latency keeps requests in flight when the signal lands.
  const runtime = await startRuntime({ args: ['--added-latency-ms', '20'] });
  const gateway = await startGateway(
    { ...fraudGatewayConfig([runtime.url], { weights: [50, 50] }), prediction_log: { path } },
    { args: ['--drain-delay-ms', '300'] },
  );
  const client = createClient(32);
  try {
    await upstreamHealthy(client, gateway.url);
    const rows = fraudRows(64, 5);
    let exited = false;
    let signalledAt = Infinity;
    let exit: Promise<number | string> | undefined;
    type Sent = { id: string; status: number; body: unknown; answeredAt: number };
    const results = await runBounded(
      MAX_REQUESTS,
      24,
      async (i): Promise<Sent | undefined> => {
        if (exited) return undefined; // the gateway is gone: the loop winds down
        if (i === 300) {
          signalledAt = Date.now();
          exit = gateway.stop('SIGTERM');
          void exit.then(() => (exited = true));
        }
        const id = `load-${i}`;
        try {
          const response = await postJson(
            client,
            `${gateway.url}/v1/decisions/fraud`,
            decisionBody(rows[i % rows.length]!, `user-${i}`),
            { ...AUTH, 'x-request-id': id },
          );
          return { id, status: response.status, body: response.body, answeredAt: Date.now() };
        } catch {
          return { id, status: 0, body: undefined, answeredAt: Date.now() }; // refused: the listener had closed
        }
      },
      30_000,
    );
    assert.ok(exit, 'the signal was sent');
    assert.equal(await exit, 0, 'the gateway exits 0');
    const answered = results.filter((r): r is Sent => r !== undefined && r.status > 0);
    const okAfterSignal = answered.filter((r) => r.status === 200 && r.answeredAt > signalledAt).length;
    const draining = answered.filter((r) => r.status === 503).length;
    t.diagnostic(
      `${answered.length} answered (${okAfterSignal} 200s after the signal, ${draining} 503 draining), ` +
        `${results.filter((r) => r?.status === 0).length} refused at the socket`,
    );
    assert.ok(okAfterSignal > 0, 'requests were still being answered during the drain');
    assert.ok(
      answered.every((r) => r.status === 200 || r.status === 503),
      `statuses: ${[...new Set(answered.map((r) => r.status))].join(', ')}`,
    );

    const records = (await readJsonl(path)).filter((r) => r.kind === 'prediction');
    const byId = new Map<string, typeof records>();
    for (const record of records)
      byId.set(record.request_id, [...(byId.get(record.request_id) ?? []), record]);
    for (const response of answered) {
      const found = byId.get(response.id) ?? [];
      assert.equal(found.length, 1, `${response.id} (${response.status}) has ${found.length} records`);
      const [record] = found;
      assert.equal(record!.status, response.status);
      if (response.status === 200) {
        const body = response.body as { decision_id: string; decision: string; variant: string };
        assert.equal(record!.decision_id, body.decision_id);
        assert.equal(record!.decision, body.decision);
        assert.equal(record!.variant, body.variant);
      } else {
        assert.equal(record!.code, 'SWY_ERR_GATEWAY_DRAINING' satisfies ErrorCode);
      }
    }
    const sent = new Set(results.flatMap((r) => (r ? [r.id] : [])));
    assert.ok(
      records.every((r) => sent.has(r.request_id)),
      'no record for a request that was not sent',
    );
    // A request whose answer the client never read (the socket closed under it) may still have a
    // record; everything else matches one to one.
    assert.ok(records.length >= answered.length && records.length <= sent.size);
  } finally {
    await client.close();
    await gateway.stop();
    assert.equal(await runtime.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  }
});
