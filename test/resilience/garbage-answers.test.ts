import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Agent } from 'undici';
import { fraudRequest, fraudRows, fraudScores } from '../harness/fraud.js';
import { GARBAGE, startGarbageRuntime, type GarbageRuntime } from '../harness/garbage-runtime.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  PATIENT_HEALTH,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import {
  createClient,
  getJson,
  metricValue,
  postJson,
  type JsonResponse,
  wireError,
} from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { gatewayMetrics } from '../harness/resilience.js';
import { startRuntime } from '../harness/runtime.js';

const KINDS = Object.keys(GARBAGE);
const ENDPOINTS = ['decision', 'predict', 'infer'] as const;
type Endpoint = (typeof ENDPOINTS)[number];

/** One fraud row asked of the gateway on one of its three endpoints. */
function ask(client: Agent, gatewayUrl: string, endpoint: Endpoint, row: number[], user: string) {
  switch (endpoint) {
    case 'decision':
      return postJson(client, `${gatewayUrl}/v1/decisions/fraud`, decisionBody(row, user), AUTH);
    case 'predict':
      return postJson(
        client,
        `${gatewayUrl}/v1/models/fraud:predict`,
        { instances: [row] },
        { ...AUTH, 'x-user-id': user },
      );
    case 'infer':
      return postJson(client, `${gatewayUrl}/v2/models/fraud/infer`, fraudRequest([row]), {
        ...AUTH,
        'x-user-id': user,
      });
  }
}

/** The score a 200 carries, by endpoint; undefined when it carries none. */
function scoreOf(endpoint: Endpoint, response: JsonResponse): unknown {
  const body = response.body as Record<string, unknown>;
  if (endpoint === 'decision') return body.score;
  if (endpoint === 'predict') return (body.predictions as unknown[] | undefined)?.[0];
  const outputs = body.outputs as { name: string; data: unknown[] }[] | undefined;
  return outputs?.length === 1 && outputs[0]!.name === 'score' ? outputs[0]!.data[0] : undefined;
}

async function waitForMetadata(client: Agent, gatewayUrl: string): Promise<void> {
  // Validation (and the answer check) use the runtime's metadata, fetched once the gateway has seen it.
  await waitFor('metadata', async () => {
    const response = await postJson(
      client,
      `${gatewayUrl}/v2/models/fraud/infer`,
      { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 7], data: [1, 2, 3, 4, 5, 6, 7] }] },
      AUTH,
    );
    return response.status === 400 && response.text.includes('/inputs/0/shape');
  });
}

test("a garbage-answering runtime beside a real one: every answer is the real runtime's or a fallback, and the garbage endpoint is ejected", async () => {
  const client = createClient(8);
  let runtime: StartedProcess | undefined;
  let garbage: GarbageRuntime | undefined;
  let gateway: GatewayUnderTest | undefined;
  try {
    runtime = await startRuntime();
    // Each inference request gets the next kind of garbage in turn.
    garbage = await startGarbageRuntime((n) => GARBAGE[KINDS[n % KINDS.length]!]!);
    gateway = await startGateway(
      fraudGatewayConfig([garbage.url, runtime.url], {
        weights: [100, 0],
        // Ejected after 3 malformed answers in a row, back after 50–100 ms: it keeps getting some.
        upstream: {
          health: PATIENT_HEALTH,
          outlier: { consecutive_errors: 3, eject_ms: 50, max_eject_ms: 100 },
        },
        model: { fallback: [{ default: { decision: 'review' } }] },
      }),
    );
    const gatewayUrl = gateway.url;
    await waitForMetadata(client, gatewayUrl);

    const rows = fraudRows(120, 5);
    const expected = await fraudScores(client, runtime.url, '1', rows);
    const seen = new Map<string, number>();
    const count = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
    // Rounds of 120 requests until the garbage runtime has sent every kind at least twice.
    for (let round = 0; round < 10 && garbage.answered < 2 * KINDS.length; round++) {
      await runBounded(rows.length, 4, async (i) => {
        const endpoint = ENDPOINTS[i % ENDPOINTS.length]!;
        const response = await ask(client, gatewayUrl, endpoint, rows[i]!, `user-${round}-${i}`);
        const fallback = response.headers['x-switchyard-fallback'];
        const what = `${endpoint} ${response.status} ${String(fallback ?? '')} ${response.text.slice(0, 300)}`;
        if (response.status === 200 && fallback === undefined) {
          assert.equal(scoreOf(endpoint, response), expected[i], `the real runtime's score: ${what}`);
          count(`${endpoint} answered by the runtime`);
        } else if (response.status === 200) {
          assert.equal(endpoint, 'decision', what);
          assert.deepEqual(
            [(response.body as { decision: string }).decision, scoreOf(endpoint, response)],
            ['review', null],
            what,
          );
          count(`decision answered by the default`);
        } else {
          // A tensor endpoint has no default to answer with; never a 200 built from garbage.
          assert.ok(response.status === 502 || response.status === 503, what);
          count(`${endpoint} ${response.status}`);
        }
      });
    }
    assert.ok(garbage.answered >= 2 * KINDS.length, `the garbage runtime answered ${garbage.answered} times`);
    for (const endpoint of ENDPOINTS) {
      assert.ok((seen.get(`${endpoint} answered by the runtime`) ?? 0) > 0, JSON.stringify([...seen]));
    }

    const metrics = await gatewayMetrics(client, gatewayUrl);
    assert.equal(
      metricValue(metrics, 'switchyard_upstream_attempts_total', { model: 'fraud', outcome: 'malformed' }),
      garbage.answered,
      'every garbage answer is counted as malformed',
    );
    assert.ok(
      metricValue(metrics, 'switchyard_upstream_retries_total', { model: 'fraud' }) > 0,
      'retried elsewhere',
    );
    const pool = (await getJson(client, `${gatewayUrl}/admin/upstreams`, AUTH)).body as Record<
      string,
      { url: string; ejections: number; errors: number }[]
    >;
    const endpointOf = (url: string) => pool.onnx!.find((e) => e.url === url)!;
    assert.ok(endpointOf(garbage.url).ejections >= 1, JSON.stringify(endpointOf(garbage.url)));
    assert.equal(endpointOf(garbage.url).errors, garbage.answered);
    assert.deepEqual([endpointOf(runtime.url).ejections, endpointOf(runtime.url).errors], [0, 0]);
  } finally {
    await client.close();
    if (gateway) assert.equal(await gateway.stop(), 0);
    if (runtime) assert.equal(await runtime.stop(), 0);
    await garbage?.close();
  }
});

test('only a garbage-answering runtime: every endpoint answers 502 SWY_ERR_UPSTREAM_MALFORMED_ANSWER, whatever the garbage', async () => {
  const client = createClient(4);
  let gateway: GatewayUnderTest | undefined;
  const garbage = await startGarbageRuntime('');
  try {
    gateway = await startGateway(
      fraudGatewayConfig([garbage.url], {
        weights: [100, 0],
        upstream: { health: PATIENT_HEALTH },
        // No fallback, and a breaker that stays closed: each answer shows what the call made of it.
        model: { breaker: { volume_threshold: 1000 } },
      }),
    );
    await waitForMetadata(client, gateway.url);
    const row = fraudRows(1, 9)[0]!;
    for (const kind of KINDS) {
      garbage.answer = GARBAGE[kind]!;
      for (const endpoint of ENDPOINTS) {
        const response = await ask(client, gateway.url, endpoint, row, 'u');
        const what = `${kind} on ${endpoint}: ${response.status} ${response.text}`;
        assert.equal(response.status, 502, what);
        assert.equal(wireError(response.body)?.code, 'SWY_ERR_UPSTREAM_MALFORMED_ANSWER', what);
      }
    }
  } finally {
    await client.close();
    if (gateway) assert.equal(await gateway.stop(), 0);
    await garbage.close();
  }
});
