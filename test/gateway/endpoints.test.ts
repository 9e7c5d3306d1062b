import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY,
  DEMO_KEY_SHA256,
  FEATURE_NAMES,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import {
  createClient,
  getJson,
  metricValue,
  postJson,
  type JsonResponse,
  type WireError,
  wireError,
} from '../harness/http.js';
import { tenantWithKey } from '../harness/load.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorCode } from '../../src/errors.js';

/**
 * One runtime and one gateway: every client-facing endpoint of the gateway, its probes and
 * metrics, the headers it adds, and the errors it answers with.
 */

interface DecisionBody {
  decision: string;
  score: number;
  threshold: number;
  model_version: string;
  variant: string;
  request_id: string;
  decision_id: string;
  fallback: unknown;
}
interface OutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}
interface InferBody {
  id?: string;
  model_name: string;
  model_version: string;
  outputs: OutputTensor[];
}

const VERSION_OF: Record<string, string> = { v1: '1', v2: '2' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BOGUS_KEY = 'sk-not-a-real-key-0123456789';

function expectedDecision(score: number): { decision: string; threshold: number } {
  if (score >= 0.85) return { decision: 'decline', threshold: 0.85 };
  if (score >= 0.5) return { decision: 'review', threshold: 0.5 };
  return { decision: 'approve', threshold: 0.5 };
}

function header(response: JsonResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `name;dur=1.2;desc="x", …` → name → {dur, desc}. */
function parseServerTiming(text: string): Map<string, { dur?: number; desc?: string }> {
  const entries = new Map<string, { dur?: number; desc?: string }>();
  for (const part of text.split(',')) {
    const [name, ...params] = part.trim().split(';');
    const entry: { dur?: number; desc?: string } = {};
    for (const param of params) {
      const [key, value = ''] = param.split('=');
      if (key === 'dur') entry.dur = Number(value);
      if (key === 'desc') entry.desc = value.replace(/^"|"$/g, '');
    }
    entries.set(name!, entry);
  }
  return entries;
}

/**
 * An error answer: its status and code, in the shape of its route (src/errors.ts, ErrorShape):
 * the protocol's `{"error": "<message>", "code"}` on /v2/* and /v1/models/*, the gateway's
 * `{"error": {"code", "message"}}` elsewhere; the code also in `x-switchyard-error-code`.
 */
function assertError(response: JsonResponse, status: number, code: ErrorCode): WireError {
  assert.equal(response.status, status, response.text);
  const error = wireError(response.body);
  assert.ok(error, response.text);
  assert.equal(error.code, code, response.text);
  assert.equal(response.headers['x-switchyard-error-code'], code);
  const path = new URL(response.url!).pathname;
  const protocol = /^\/(v2(\/|$)|v1\/models(\/|:|$))/.test(path);
  assert.equal(error.shape, protocol ? 'protocol' : 'switchyard', `${path}: ${response.text}`);
  const keys = Object.keys(response.body as object);
  assert.deepEqual(keys, protocol ? ['error', 'code', ...(error.problems ? ['problems'] : [])] : ['error']);
  assert.doesNotMatch(response.text, /\n\s+at /, 'no stack trace on the wire');
  return error;
}

test('endpoints: decisions, OIP, KServe v1, metadata, probes, metrics, headers and errors', async (t) => {
  const checkout = tenantWithKey('checkout', ['infer']);
  const demo = { name: 'demo', keys: [{ sha256: DEMO_KEY_SHA256 }], scopes: ['infer', 'admin', 'debug'] };
  const runtime = await startRuntime();
  let gateway: GatewayUnderTest;
  try {
    gateway = await startGateway(
      fraudGatewayConfig([runtime.url], { weights: [50, 50], tenants: [demo, checkout.tenant] }),
    );
  } catch (error) {
    await runtime.stop();
    throw error;
  }
  const client = createClient(16);
  const answered: JsonResponse[] = []; // every gateway response, checked for API keys at the end
  const post = async (path: string, body: unknown, headers: Record<string, string> = AUTH) => {
    const response = await postJson(client, `${gateway.url}${path}`, body, headers);
    answered.push(response);
    return response;
  };
  const get = async (path: string, headers: Record<string, string> = AUTH) => {
    const response = await getJson(client, `${gateway.url}${path}`, headers);
    answered.push(response);
    return response;
  };
  /** The runtime's own scores for `rows` at `version`, asked directly (one request, one batch). */
  const runtimeScores = async (version: string, rows: number[][]): Promise<number[]> => {
    const direct = await postJson(
      client,
      `${runtime.url}/v2/models/fraud/versions/${version}/infer`,
      fraudRequest(rows),
    );
    assert.equal(direct.status, 200, direct.text);
    return (direct.body as InferBody).outputs[0]!.data;
  };
  const rows = fraudRows(64);

  try {
    await t.test(
      'POST /v1/decisions/fraud scores like the runtime and decides by the thresholds',
      async () => {
        const decisions = new Set<string>();
        const versions = new Set<string>();
        const decisionIds = new Set<string>();
        // Sequential, so the runtime runs every row alone (batch of 1) for the gateway and for us.
        for (let i = 0; i < rows.length; i++) {
          const response = await post('/v1/decisions/fraud', decisionBody(rows[i]!, `user-${i}`));
          assert.equal(response.status, 200, response.text);
          const body = response.body as DecisionBody;
          assert.deepEqual(Object.keys(body).sort(), [
            'decision',
            'decision_id',
            'fallback',
            'model_version',
            'request_id',
            'score',
            'threshold',
            'variant',
          ]);
          assert.equal(body.fallback, null);
          assert.equal(body.model_version, VERSION_OF[body.variant], `variant ${body.variant}`);
          const [direct] = await runtimeScores(body.model_version, [rows[i]!]);
          assert.equal(body.score, direct, `row ${i}, version ${body.model_version}`);
          assert.deepEqual(
            { decision: body.decision, threshold: body.threshold },
            expectedDecision(body.score),
            `row ${i} scored ${body.score}`,
          );
          assert.equal(body.request_id, header(response, 'x-request-id'));
          assert.match(body.decision_id, UUID);
          assert.ok(!decisionIds.has(body.decision_id), 'decision ids are unique');
          decisionIds.add(body.decision_id);
          assert.equal(header(response, 'x-switchyard-variant'), body.variant);
          assert.equal(header(response, 'x-switchyard-model-version'), body.model_version);
          assert.equal(header(response, 'x-switchyard-fallback'), undefined);
          decisions.add(body.decision);
          versions.add(body.model_version);
        }
        // The seeded rows and user ids are fixed, so this covers every branch every run.
        assert.deepEqual([...versions].sort(), ['1', '2']);
        assert.deepEqual([...decisions].sort(), ['approve', 'decline', 'review']);
      },
    );

    await t.test('POST /v2/models/fraud/infer (OIP) echoes the id under the gateway model name', async () => {
      const batch = rows.slice(0, 3);
      const response = await post('/v2/models/fraud/infer', fraudRequest(batch, 'client-req-7'), {
        ...AUTH,
        'x-user-id': 'oip-user',
      });
      assert.equal(response.status, 200, response.text);
      const body = response.body as InferBody;
      assert.equal(body.id, 'client-req-7');
      assert.equal(body.model_name, 'fraud');
      assert.equal(body.model_version, header(response, 'x-switchyard-model-version'));
      assert.equal(body.model_version, VERSION_OF[header(response, 'x-switchyard-variant')!]);
      assert.equal(body.outputs.length, 1);
      const [output] = body.outputs;
      assert.equal(output!.name, 'score');
      assert.equal(output!.datatype, 'FP32');
      assert.deepEqual(output!.shape, [3, 1]);
      assert.deepEqual(output!.data, await runtimeScores(body.model_version, batch));
    });

    await t.test('POST /v1/models/fraud:predict takes rows or named features', async () => {
      const batch = rows.slice(10, 14);
      const user = { ...AUTH, 'x-user-id': 'predict-user' };
      const asRows = await post('/v1/models/fraud:predict', { instances: batch }, user);
      assert.equal(asRows.status, 200, asRows.text);
      const version = header(asRows, 'x-switchyard-model-version')!;
      const expected = await runtimeScores(version, batch);
      assert.deepEqual(asRows.body, { predictions: expected });

      const named = batch.map((row) => decisionBody(row).features);
      const asNamed = await post('/v1/models/fraud:predict', { instances: named }, user);
      assert.equal(asNamed.status, 200, asNamed.text);
      assert.equal(header(asNamed, 'x-switchyard-model-version'), version, 'the same user, the same version');
      assert.deepEqual(asNamed.body, { predictions: expected });

      const wrong = await post(
        '/v1/models/fraud:predict',
        { instances: [named[0], { ...named[1], hour_of_day: 30 }] },
        user,
      );
      const problems = assertError(wrong, 400, 'SWY_ERR_INPUT_INVALID').problems;
      assert.deepEqual(problems, [
        { path: '/instances/1/hour_of_day', message: '30 is above the maximum 23' },
      ]);
      assertError(
        await post('/v1/models/fraud:predict', { instances: [] }, user),
        400,
        'SWY_ERR_INPUT_INVALID',
      );
    });

    await t.test('GET /v2/models/fraud describes the model as clients see it', async () => {
      const response = await get('/v2/models/fraud');
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body, {
        name: 'fraud',
        versions: ['1', '2'],
        platform: 'onnxruntime',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }],
        outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
        parameters: {
          variants: [
            { name: 'v1', version: '1', weight: 50 },
            { name: 'v2', version: '2', weight: 50 },
          ],
          features: [...FEATURE_NAMES],
        },
      });
      assert.equal((await get('/v2/models/fraud', checkout.auth)).status, 200, 'the infer scope suffices');
      assertError(await get('/v2/models/fraud', {}), 401, 'SWY_ERR_AUTH_MISSING_KEY');
      assertError(await get('/v2/models/nope'), 404, 'SWY_ERR_MODEL_UNKNOWN');
    });

    await t.test('GET /livez, /readyz and /metrics count the requests made', async () => {
      const live = await get('/livez', {});
      assert.equal(live.status, 200);
      assert.deepEqual(live.body, { status: 'ok' });
      const ready = await get('/readyz', {});
      assert.equal(ready.status, 200);
      assert.equal((ready.body as { status: string }).status, 'ready');
      assert.match((ready.body as { config: string }).config, /^[0-9a-f]{16}$/);

      const before = await get('/metrics', {});
      assert.equal(before.status, 200);
      assert.match(header(before, 'content-type')!, /^text\/plain/);
      assert.match(before.text, /^# TYPE switchyard_requests_total counter$/m);
      assert.match(before.text, /^# TYPE switchyard_route_assignments_total counter$/m);

      const routed = new Map<string, number>(); // variant → requests routed to it
      const count = (response: JsonResponse) => {
        assert.equal(response.status, 200, response.text);
        const variant = header(response, 'x-switchyard-variant')!;
        routed.set(variant, (routed.get(variant) ?? 0) + 1);
      };
      for (let i = 0; i < 4; i++)
        count(await post('/v1/decisions/fraud', decisionBody(rows[i]!, `metrics-${i}`)));
      count(await post('/v2/models/fraud/infer', fraudRequest([rows[0]!]), { ...AUTH, 'x-user-id': 'm-1' }));
      count(await post('/v2/models/fraud/infer', fraudRequest([rows[1]!]), { ...AUTH, 'x-user-id': 'm-2' }));
      count(
        await post('/v1/models/fraud:predict', { instances: [rows[2]] }, { ...AUTH, 'x-user-id': 'm-3' }),
      );
      // Refused before routing: counted as client errors, never as assignments.
      assertError(await post('/v1/decisions/fraud', { features: {} }), 400, 'SWY_ERR_INPUT_INVALID');
      assertError(
        await post('/v1/decisions/fraud', decisionBody(rows[0]!, 'x'), {
          authorization: `Bearer ${BOGUS_KEY}`,
        }),
        401,
        'SWY_ERR_AUTH_UNKNOWN_KEY',
      );

      const after = await get('/metrics', {});
      const delta = (name: string, labels: Record<string, string>) =>
        metricValue(after.text, name, labels) - metricValue(before.text, name, labels);
      const requests = 'switchyard_requests_total';
      assert.equal(delta(requests, { model: 'fraud', endpoint: 'decision', outcome: 'ok' }), 4);
      assert.equal(delta(requests, { model: 'fraud', endpoint: 'infer', outcome: 'ok' }), 2);
      assert.equal(delta(requests, { model: 'fraud', endpoint: 'predict', outcome: 'ok' }), 1);
      assert.equal(delta(requests, { model: 'fraud', endpoint: 'decision', outcome: 'client_error' }), 2);
      const assignments = 'switchyard_route_assignments_total';
      assert.equal(delta(assignments, { model: 'fraud' }), 7);
      for (const variant of ['v1', 'v2']) {
        const expected = routed.get(variant) ?? 0;
        assert.equal(delta(assignments, { model: 'fraud', variant, source: 'key' }), expected, variant);
        assert.equal(
          delta(requests, { model: 'fraud', variant, version: VERSION_OF[variant]!, outcome: 'ok' }),
          expected,
          variant,
        );
      }
    });

    await t.test('x-request-id, x-switchyard-* and server-timing headers', async () => {
      const given = 'caller-req.1:a@b_c-d';
      const echoed = await post('/v1/decisions/fraud', decisionBody(rows[5]!, 'hdr-user'), {
        ...AUTH,
        'x-request-id': given,
      });
      assert.equal(echoed.status, 200, echoed.text);
      assert.equal(header(echoed, 'x-request-id'), given);
      assert.equal((echoed.body as DecisionBody).request_id, given);

      for (const unsafe of ['has space <script>', 'x'.repeat(129), 'semi;colon']) {
        const replaced = await post('/v1/decisions/fraud', decisionBody(rows[5]!, 'hdr-user'), {
          ...AUTH,
          'x-request-id': unsafe,
        });
        assert.equal(replaced.status, 200, replaced.text);
        assert.match(header(replaced, 'x-request-id')!, UUID, `"${unsafe.slice(0, 20)}" is replaced`);
        assert.equal((replaced.body as DecisionBody).request_id, header(replaced, 'x-request-id'));
      }
      const refused = await post('/v1/decisions/fraud', decisionBody(rows[5]!), { 'x-request-id': given });
      assertError(refused, 401, 'SWY_ERR_AUTH_MISSING_KEY');
      assert.equal(header(refused, 'x-request-id'), given, 'errors carry the request id too');

      const timed = await post('/v1/decisions/fraud', decisionBody(rows[6]!, 'hdr-user'), {
        ...AUTH,
        'x-request-timeout-ms': '300',
      });
      assert.equal(timed.status, 200, timed.text);
      const variant = header(timed, 'x-switchyard-variant')!;
      assert.ok(variant in VERSION_OF, variant);
      assert.equal(header(timed, 'x-switchyard-model-version'), VERSION_OF[variant]);
      const timing = parseServerTiming(header(timed, 'server-timing')!);
      for (const name of [
        'auth',
        'validate',
        'route',
        'upstream',
        'rt-queue',
        'rt-infer',
        'budget',
        'total',
      ]) {
        const entry = timing.get(name);
        assert.ok(entry, `server-timing has ${name}: ${header(timed, 'server-timing')}`);
        assert.ok(Number.isFinite(entry.dur) && entry.dur! >= 0, `${name} has a duration`);
      }
      const total = timing.get('total')!.dur!;
      const stages = [...timing].filter(
        ([name]) => !name.startsWith('rt-') && name !== 'budget' && name !== 'total',
      );
      const stageSum = stages.reduce((sum, [, entry]) => sum + entry.dur!, 0);
      const rounding = 0.0005 * (stages.length + 1); // each entry is rounded to the microsecond
      assert.ok(stageSum <= total + rounding, `stages add up to ${stageSum} ms, over the total ${total} ms`);
      const runtimeMs = timing.get('rt-queue')!.dur! + timing.get('rt-infer')!.dur!;
      assert.ok(
        runtimeMs <= timing.get('upstream')!.dur! + rounding,
        'the runtime ran inside the upstream call',
      );
      // The caller's 300 ms is smaller than the model's 1000 ms budget, so it is the budget.
      assert.equal(timing.get('budget')!.desc, 'left');
      assert.ok(Math.abs(timing.get('budget')!.dur! + total - 300) < 0.01, header(timed, 'server-timing'));
    });

    await t.test('an x-request-timeout-ms that is not a number of ms leaves the model budget', async () => {
      // src/http/context.ts ignores values that are not finite and >= 0; an empty value is no
      // number either (the runtime answers 400 for it), yet Number('') is 0.
      for (const value of ['abc', '-5', '']) {
        const response = await post('/v1/decisions/fraud', decisionBody(rows[7]!, 'budget-user'), {
          ...AUTH,
          'x-request-timeout-ms': value,
        });
        assert.equal(response.status, 200, `x-request-timeout-ms: "${value}" → ${response.text}`);
        const timing = parseServerTiming(header(response, 'server-timing')!);
        const budget = timing.get('budget')!.dur! + timing.get('total')!.dur!;
        assert.ok(
          Math.abs(budget - 1000) < 0.01,
          `"${value}": a budget of ${budget} ms, not the model's 1000`,
        );
      }
    });

    await t.test('unknown models and routes are 404, malformed JSON is 400', async () => {
      const row = decisionBody(rows[0]!, 'u');
      assertError(await post('/v1/decisions/nope', row), 404, 'SWY_ERR_MODEL_UNKNOWN');
      assertError(
        await post('/v2/models/nope/infer', fraudRequest([rows[0]!])),
        404,
        'SWY_ERR_MODEL_UNKNOWN',
      );
      assertError(
        await post('/v1/models/nope:predict', { instances: [rows[0]] }),
        404,
        'SWY_ERR_MODEL_UNKNOWN',
      );
      assertError(await get('/v3/nothing'), 404, 'SWY_ERR_HTTP_NOT_FOUND');
      assertError(
        await post('/v1/models/fraud:explain', { instances: [rows[0]] }),
        404,
        'SWY_ERR_HTTP_NOT_FOUND',
      );
      assertError(await get('/v1/decisions/fraud'), 404, 'SWY_ERR_HTTP_NOT_FOUND');
      assertError(await post('/v1/decisions/fraud', '{"features": {'), 400, 'SWY_ERR_HTTP_MALFORMED_JSON');
      assertError(await post('/v2/models/fraud/infer', '[1, 2'), 400, 'SWY_ERR_HTTP_MALFORMED_JSON');
      assertError(await post('/v1/decisions/fraud', ''), 400, 'SWY_ERR_HTTP_MALFORMED_JSON');
    });

    await t.test('a decision with bad features lists every problem with its path', async () => {
      const features: Record<string, unknown> = { ...decisionBody(rows[0]!).features };
      features.transaction_amount = -5; // below the minimum
      features.account_age_days = 99_999; // above the maximum
      features.device_risk_score = 'high'; // not a number
      delete features.country_risk; // missing
      features.favourite_colour = 3; // not a feature
      const response = await post('/v1/decisions/fraud', { user_id: { not: 'a key' }, features });
      const body = assertError(response, 400, 'SWY_ERR_INPUT_INVALID');
      const problems = body.problems ?? [];
      assert.deepEqual(problems.map((p) => p.path).sort(), [
        '/features/account_age_days',
        '/features/country_risk',
        '/features/device_risk_score',
        '/features/favourite_colour',
        '/features/transaction_amount',
        '/user_id',
      ]);
      for (const problem of problems) {
        assert.ok(problem.message.length > 0);
        assert.ok(body.message.includes(problem.path), `the message names ${problem.path}`);
      }
      const byPath = new Map(problems.map((p) => [p.path, p.message]));
      assert.match(byPath.get('/features/transaction_amount')!, /below the minimum 0/);
      assert.match(byPath.get('/features/account_age_days')!, /above the maximum 3650/);
      assert.match(byPath.get('/features/country_risk')!, /missing/);
      assert.match(byPath.get('/features/favourite_colour')!, /not a feature/);

      const none = await post('/v1/decisions/fraud', { user_id: 'u' });
      assert.deepEqual(assertError(none, 400, 'SWY_ERR_INPUT_INVALID').problems, [
        { path: '/features', message: 'must be an object of named feature values' },
      ]);
    });

    await t.test('401 without a key or with an unknown one, 403 without the scope', async () => {
      const body = decisionBody(rows[0]!, 'auth-user');
      assertError(await post('/v1/decisions/fraud', body, {}), 401, 'SWY_ERR_AUTH_MISSING_KEY');
      assertError(
        await post('/v1/decisions/fraud', body, { authorization: `Bearer ${BOGUS_KEY}` }),
        401,
        'SWY_ERR_AUTH_UNKNOWN_KEY',
      );
      assertError(
        await post('/v1/decisions/fraud', body, { 'x-api-key': BOGUS_KEY }),
        401,
        'SWY_ERR_AUTH_UNKNOWN_KEY',
      );
      assert.equal((await post('/v1/decisions/fraud', body, { 'x-api-key': DEMO_KEY })).status, 200);
      assert.equal(
        (await post('/v1/decisions/fraud', body, checkout.auth)).status,
        200,
        'checkout may infer',
      );

      assertError(await get('/admin/config', checkout.auth), 403, 'SWY_ERR_AUTH_FORBIDDEN');
      assertError(await get('/admin/upstreams', checkout.auth), 403, 'SWY_ERR_AUTH_FORBIDDEN');
      assertError(await get('/admin/config', {}), 401, 'SWY_ERR_AUTH_MISSING_KEY');
      assertError(await get('/admin/config', { 'x-api-key': BOGUS_KEY }), 401, 'SWY_ERR_AUTH_UNKNOWN_KEY');
      const admin = await get('/admin/config');
      assert.equal(admin.status, 200, admin.text);
      assert.ok(admin.text.includes(DEMO_KEY_SHA256), 'the config shows the key digest only');
    });

    await t.test('no response carries an API key', () => {
      assert.ok(answered.length > 100, `${answered.length} responses checked`);
      for (const response of answered) {
        const seen = `${JSON.stringify(response.headers)}\n${response.text}`;
        for (const key of [DEMO_KEY, checkout.key, BOGUS_KEY]) {
          assert.ok(!seen.includes(key), `a ${response.status} response repeats an API key:\n${seen}`);
        }
      }
    });
  } finally {
    await client.close();
    const codes = [await gateway.stop(), await runtime.stop()];
    assert.deepEqual(codes, [0, 0], 'gateway and runtime exit 0');
  }
});
