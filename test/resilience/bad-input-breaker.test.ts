import assert from 'node:assert/strict';
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
import { createClient, getJson, postJson, type JsonResponse } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { breakerState, fallbacks, gatewayMetrics } from '../harness/resilience.js';
import { startRuntime } from '../harness/runtime.js';

/** Each kind of bad request, sent this many times: three times the breaker's volume threshold. */
const PER_KIND = 15;
const VALID = 150;

/** `{"a":{"a":…1…}}`, `depth` objects deep. */
function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/**
 * Bad requests that the gateway used to let count against the variant. Each is the caller's
 * doing: it must get its own answer (a 4xx, or a fallback for a deadline it made too short) and
 * leave everyone else's alone.
 */
const BAD: { what: string; path: string; body: string; headers?: Record<string, string> }[] = [
  {
    // JSON.stringify of the request threw inside the breaker: 500, counted as the variant's failure.
    what: 'parameters nested 10,000 deep',
    path: '/v2/models/fraud/infer',
    body: `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,8],"data":[${fraudRows(1)[0]!.join(',')}]}],"parameters":${nested(10_000)}}`,
  },
  {
    // Finite FP32 values the model overflows into NaN: a 200 with a null score, which the
    // gateway now takes for a malformed answer, so the runtime must refuse it as the request's.
    what: 'inputs the model turns into NaN',
    path: '/v2/models/fraud/infer',
    body: JSON.stringify({
      inputs: [
        {
          name: 'features',
          datatype: 'FP32',
          shape: [1, 8],
          data: [-3e38, -3e38, -1e38, 3e38, 0, 0, 3e38, 1e38],
        },
      ],
    }),
  },
  {
    // Less time than the fallback reserve: the call ran out of time before it began, and counted.
    what: 'a 2 ms deadline',
    path: '/v1/decisions/fraud',
    body: JSON.stringify(decisionBody(fraudRows(1, 3)[0]!, 'hurried')),
    headers: { 'x-request-timeout-ms': '2' },
  },
];

test('a burst of bad requests beside valid traffic: the breaker stays closed, valid callers stay on their variant', async () => {
  const client = createClient(16);
  let runtime: StartedProcess | undefined;
  let gateway: GatewayUnderTest | undefined;
  try {
    runtime = await startRuntime();
    gateway = await startGateway(
      fraudGatewayConfig([runtime.url], {
        weights: [100, 0],
        upstream: { health: PATIENT_HEALTH },
        model: {
          // Opens after 5 failures in 10 s: the burst is three times that, per kind.
          breaker: {
            error_threshold_percent: 50,
            volume_threshold: 5,
            reset_ms: 60_000,
            rolling_window_ms: 10_000,
          },
          fallback: [{ default: { decision: 'review' } }],
        },
      }),
    );
    const gatewayUrl = gateway.url;
    // Validation checks tensors once the gateway has the runtime's metadata.
    await waitFor('metadata', async () => {
      const response = await postJson(
        client,
        `${gatewayUrl}/v2/models/fraud/infer`,
        { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 7], data: [1, 2, 3, 4, 5, 6, 7] }] },
        AUTH,
      );
      return response.status === 400 && response.text.includes('/inputs/0/shape');
    });

    const rows = fraudRows(VALID, 11);
    const sendValid = (i: number) =>
      postJson(client, `${gatewayUrl}/v1/decisions/fraud`, decisionBody(rows[i]!, `user-${i}`), AUTH);
    const sendBad = (i: number) => {
      const bad = BAD[i % BAD.length]!;
      return postJson(client, `${gatewayUrl}${bad.path}`, bad.body, { ...AUTH, ...bad.headers });
    };
    const [valid, bad] = await Promise.all([
      runBounded(VALID, 4, sendValid, 30_000),
      runBounded(PER_KIND * BAD.length, 4, sendBad, 30_000),
    ]);

    const described = (r: JsonResponse) =>
      `${r.status} ${String(r.headers['x-switchyard-fallback'] ?? '')} ${r.text.slice(0, 200)}`;
    for (const response of valid) {
      assert.equal(response.status, 200, described(response));
      assert.equal(response.headers['x-switchyard-fallback'], undefined, described(response));
      assert.equal(response.headers['x-switchyard-variant'], 'v1');
      assert.equal((response.body as { fallback: unknown }).fallback, null);
    }

    bad.forEach((response, i) => {
      const { what } = BAD[i % BAD.length]!;
      if (what === 'a 2 ms deadline') {
        // The caller's own deadline ran out: it gets the fallback, for its reason.
        assert.equal(response.status, 200, `${what}: ${described(response)}`);
        assert.equal(response.headers['x-switchyard-fallback'], 'default; reason=budget_exhausted', what);
      } else {
        assert.equal(response.status, 400, `${what}: ${described(response)}`);
      }
    });
    const metrics = await gatewayMetrics(client, gatewayUrl);
    assert.equal(breakerState(metrics, 'fraud', 'v1'), 0, 'the breaker of v1 is closed');
    assert.equal(fallbacks(metrics, { model: 'fraud', reason: 'circuit_open' }), 0);
    const upstreams = (await getJson(client, `${gatewayUrl}/admin/upstreams`, AUTH)).body as Record<
      string,
      { ejections: number; errors: number }[]
    >;
    assert.deepEqual(
      upstreams.onnx!.map((e) => [e.ejections, e.errors]),
      [[0, 0]],
      'nothing counted against the runtime',
    );
  } finally {
    await client.close();
    if (gateway) assert.equal(await gateway.stop(), 0);
    if (runtime) assert.equal(await runtime.stop(), 0);
  }
});
