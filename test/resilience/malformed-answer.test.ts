import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  PATIENT_HEALTH,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, getJson, postJson, wireError } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { shadowPair } from '../harness/resilience.js';
import { readJsonl, type LoggedRecord } from '../telemetry/prediction-log-harness.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorCode } from '../../src/errors.js';

/**
 * A runtime stand-in on loopback that is ready and answers every inference 200 with `body`: valid
 * JSON, but not an inference response. No real runtime can be made to answer so.
 */
async function startMalformedRuntime(body: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    request.resume();
    if (request.method === 'POST' && request.url?.endsWith('/infer')) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } else if (request.url === '/v2/health/ready') {
      response.writeHead(200).end();
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not here"}');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** What a runtime answering 200 may send that is JSON but no inference response. */
const MALFORMED = ['{}', '{"outputs":null}', '{"outputs":[{"name":"score"}]}', '[1,2]', 'null'];

test('a shadow answering 200 with JSON that is no inference response: copies count as errors, callers unaffected', async (t) => {
  const client = createClient(20);
  let runtime: StartedProcess | undefined;
  let gateway: GatewayUnderTest | undefined;
  const broken: { url: string; close(): Promise<void> }[] = [];
  try {
    runtime = await startRuntime();
    for (const body of MALFORMED) broken.push(await startMalformedRuntime(body));
    const config = fraudGatewayConfig([runtime.url], {
      weights: [100, 0],
      upstream: { health: PATIENT_HEALTH },
      model: {
        shadows: MALFORMED.map((_, i) => ({
          name: `s${i}`,
          upstream: `broken${i}`,
          model: 'fraud',
          version: '3',
          percent: 100,
        })),
      },
    });
    const upstreams: Record<string, object> = { ...config.upstreams };
    broken.forEach(
      (server, i) => (upstreams[`broken${i}`] = { ...config.upstreams.onnx, endpoints: [server.url] }),
    );
    gateway = await startGateway({ ...config, upstreams });

    const rows = fraudRows(40);
    const statuses = await runBounded(rows.length, 8, async (i) => {
      const response = await postJson(
        client,
        `${gateway!.url}/v1/decisions/fraud`,
        decisionBody(rows[i]!, `u${i}`),
        AUTH,
      );
      return response.status;
    });
    assert.deepEqual(new Set(statuses), new Set([200]), 'every caller answered by v1');

    for (let i = 0; i < MALFORMED.length; i++) {
      const pair = await waitFor(`shadow s${i} settled`, async () => {
        const p = await shadowPair(client, gateway!.url, 'fraud', 'v1', `s${i}`);
        return p && p.errors + p.compared >= rows.length ? p : undefined;
      });
      await t.test(`shadow answering ${MALFORMED[i]}`, () => {
        assert.equal(pair.errors, rows.length, JSON.stringify(pair));
        assert.equal(pair.compared, 0);
      });
    }
    assert.equal((await getJson(client, `${gateway.url}/readyz`)).status, 200, 'the gateway is still up');
    const records = await waitFor('shadow records', async () => {
      const shadows = (await readJsonl(join(gateway!.dir, 'predictions.jsonl'))).filter(
        (record): record is LoggedRecord & { outcome: string; error?: string } => record.kind === 'shadow',
      );
      return shadows.length >= rows.length * MALFORMED.length ? shadows : undefined;
    });
    // Each copy failed: on the malformed answer, or, once the shadow's breaker opened on those
    // failures, at the breaker.
    const outcomes = new Set(records.map((r) => `${r.outcome} ${r.error}`));
    assert.ok(outcomes.has('error SWY_ERR_UPSTREAM_MALFORMED_ANSWER'), [...outcomes].join(', '));
    outcomes.delete('error SWY_ERR_UPSTREAM_MALFORMED_ANSWER');
    outcomes.delete('error SWY_ERR_UPSTREAM_CIRCUIT_OPEN');
    assert.deepEqual([...outcomes], []);
  } finally {
    await client.close();
    if (gateway) assert.equal(await gateway.stop(), 0, 'the gateway exits cleanly');
    if (runtime) assert.equal(await runtime.stop(), 0);
    await Promise.all(broken.map((server) => server.close()));
  }
});

test('the primary answering 200 with JSON that is no inference response: 502 SWY_ERR_UPSTREAM_MALFORMED_ANSWER', async () => {
  const client = createClient(4);
  let gateway: GatewayUnderTest | undefined;
  const broken = await startMalformedRuntime('{"outputs":null}');
  try {
    gateway = await startGateway(
      fraudGatewayConfig([broken.url], { weights: [100, 0], upstream: { health: PATIENT_HEALTH } }),
    );
    const response = await postJson(
      client,
      `${gateway.url}/v1/decisions/fraud`,
      decisionBody(fraudRows(1)[0]!, 'u'),
      AUTH,
    );
    assert.equal(response.status, 502, response.text);
    assert.equal(wireError(response.body)?.code, 'SWY_ERR_UPSTREAM_MALFORMED_ANSWER' satisfies ErrorCode);
  } finally {
    await client.close();
    if (gateway) assert.equal(await gateway.stop(), 0);
    await broken.close();
  }
});
