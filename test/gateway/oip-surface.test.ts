import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Agent } from 'undici';
import {
  AUTH,
  DEMO_KEY_SHA256,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import {
  createClient,
  getJson,
  metricValue,
  postJson,
  type JsonResponse,
  wireError,
} from '../harness/http.js';
import { tenantWithKey } from '../harness/load.js';
import {
  ErrorResponse,
  LiveServerResponse,
  InferenceResponse,
  MetadataModelResponse,
  MetadataServerResponse,
  ReadyModelResponse,
  ReadyServerResponse,
  assertFits,
} from '../harness/oip-schemas.js';
import type { StartedProcess } from '../harness/process.js';
import { waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { OIP_EXTENSIONS, SWITCHYARD_VERSION } from '../../src/shared/server-metadata.js';
import type { ErrorCode } from '../../src/errors.js';

/**
 * The Open Inference Protocol surface of the gateway (issue 19), spoken as a client library
 * speaks it, against a real runtime behind a real gateway: health, server metadata, model
 * readiness. Bodies are checked against the schemas written from the OIP REST document
 * (test/harness/oip-schemas.ts: kserve/open-inference-protocol, inference_rest.md, version 2).
 */
describe('gateway: Open Inference Protocol surface', () => {
  const ops = tenantWithKey('ops', ['admin']);
  const checkout = tenantWithKey('checkout', ['infer']);
  const pinner = tenantWithKey('pinner', ['infer', 'pin']);
  let runtime: StartedProcess;
  let gateway: GatewayUnderTest;
  let client: Agent;
  const get = (path: string, headers: Record<string, string> = AUTH) =>
    getJson(client, `${gateway.url}${path}`, headers);
  const post = (path: string, body: unknown, headers: Record<string, string> = AUTH) =>
    postJson(client, `${gateway.url}${path}`, body, headers);

  before(async () => {
    client = createClient(8);
    runtime = await startRuntime();
    const demo = { name: 'demo', keys: [{ sha256: DEMO_KEY_SHA256 }], scopes: ['infer', 'admin', 'debug'] };
    try {
      gateway = await startGateway({
        ...fraudGatewayConfig([runtime.url], {
          tenants: [demo, ops.tenant, checkout.tenant, pinner.tenant],
          // Version 2 takes no traffic by assignment: only a pin reaches it.
          weights: [100, 0],
        }),
        limits: { body_bytes: 64 * 1024 },
      });
    } catch (error) {
      await runtime.stop();
      throw error;
    }
    await upstreamHealthy(client, gateway.url);
  });
  after(async () => {
    await client.close();
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
  });

  test('health and server metadata answer without a key, in the protocol shapes', async () => {
    const live = await get('/v2/health/live', {});
    assert.equal(live.status, 200);
    assertFits(LiveServerResponse, live.body, 'live');
    assert.deepEqual(live.body, { live: true });

    const ready = await get('/v2/health/ready', {});
    assert.equal(ready.status, 200);
    assertFits(ReadyServerResponse, ready.body, 'ready');
    assert.deepEqual(ready.body, { ready: true });

    for (const path of ['/v2', '/v2/']) {
      const metadata = await get(path, {});
      assert.equal(metadata.status, 200, path);
      assertFits(MetadataServerResponse, metadata.body, path);
      assert.deepEqual(metadata.body, {
        name: 'switchyard',
        version: SWITCHYARD_VERSION,
        extensions: [...OIP_EXTENSIONS],
      });
    }
  });

  test('model and version readiness need the infer scope and name the model', async () => {
    for (const path of [
      '/v2/models/fraud/ready',
      '/v2/models/fraud/versions/1/ready',
      '/v2/models/fraud/versions/2/ready',
    ]) {
      const answer = await get(path);
      assert.equal(answer.status, 200, path);
      assertFits(ReadyModelResponse, answer.body, path);
      assert.deepEqual(answer.body, { name: 'fraud', ready: true }, path);
    }
    assertRefused(await get('/v2/models/fraud/ready', {}), 401, 'SWY_ERR_AUTH_MISSING_KEY');
    assertRefused(await get('/v2/models/fraud/ready', ops.auth), 403, 'SWY_ERR_AUTH_FORBIDDEN');
    assertRefused(await get('/v2/models/nope/ready'), 404, 'SWY_ERR_MODEL_UNKNOWN');
    assertRefused(await get('/v2/models/fraud/versions/9/ready'), 404, 'SWY_ERR_MODEL_UNKNOWN_VERSION');
  });

  test('with its only runtime endpoint drained, the server and its model are not ready', async () => {
    const drain = await post('/admin/upstreams/onnx/drain', { endpoint: runtime.url });
    assert.equal(drain.status, 200, drain.text);
    try {
      const ready = await get('/v2/health/ready', {});
      assert.deepEqual([ready.status, ready.body], [503, { ready: false }]);
      for (const path of ['/v2/models/fraud/ready', '/v2/models/fraud/versions/2/ready']) {
        const model = await get(path);
        assert.equal(model.status, 503, path);
        assertFits(ReadyModelResponse, model.body, path);
        assert.deepEqual(model.body, { name: 'fraud', ready: false }, path);
      }
      // Live is about the gateway itself, not what it routes to.
      assert.deepEqual((await get('/v2/health/live', {})).body, { live: true });
    } finally {
      const undrain = await post('/admin/upstreams/onnx/undrain', { endpoint: runtime.url });
      assert.equal(undrain.status, 200, undrain.text);
    }
    await waitFor('ready again', async () => (await get('/v2/health/ready', {})).status === 200);
    assert.deepEqual((await get('/v2/models/fraud/ready')).body, { name: 'fraud', ready: true });
  });

  test('errors on the protocol routes are {"error": "<message>"} with the code beside it and in a header', async () => {
    const big = {
      inputs: [{ name: 'features', shape: [1, 8], datatype: 'FP32', data: [1] }],
      pad: 'x'.repeat(70_000),
    };
    const cases: { what: string; answer: () => Promise<JsonResponse>; status: number; code: ErrorCode }[] = [
      // The fast path (src/http/model-server.ts) and its handler (src/http/model-request.ts).
      {
        what: 'infer, malformed JSON',
        answer: () => post('/v2/models/fraud/infer', '{"inputs": ['),
        status: 400,
        code: 'SWY_ERR_HTTP_MALFORMED_JSON',
      },
      {
        what: 'infer, unknown model',
        answer: () => post('/v2/models/nope/infer', {}),
        status: 404,
        code: 'SWY_ERR_MODEL_UNKNOWN',
      },
      {
        what: 'infer, body too large',
        answer: () => post('/v2/models/fraud/infer', big),
        status: 413,
        code: 'SWY_ERR_HTTP_BODY_TOO_LARGE',
      },
      // The pipeline's refusals (src/stages/respond).
      {
        what: 'infer, no key',
        answer: () => post('/v2/models/fraud/infer', {}, {}),
        status: 401,
        code: 'SWY_ERR_AUTH_MISSING_KEY',
      },
      {
        what: 'infer, bad tensor',
        answer: () => post('/v2/models/fraud/infer', { inputs: [] }),
        status: 400,
        code: 'SWY_ERR_INPUT_INVALID',
      },
      {
        what: 'predict, bad rows',
        answer: () => post('/v1/models/fraud:predict', { instances: [] }),
        status: 400,
        code: 'SWY_ERR_INPUT_INVALID',
      },
      {
        what: 'predict, scope',
        answer: () => post('/v1/models/fraud:predict', { instances: [[1]] }, ops.auth),
        status: 403,
        code: 'SWY_ERR_AUTH_FORBIDDEN',
      },
      // Fastify: model URLs in an unusual form, its routes, its error and not-found handlers.
      {
        what: 'infer via Fastify, malformed JSON',
        answer: () => post('/v2/models/fraud/infer?door=fastify', '[1, 2'),
        status: 400,
        code: 'SWY_ERR_HTTP_MALFORMED_JSON',
      },
      {
        what: 'metadata, unknown model',
        answer: () => get('/v2/models/nope'),
        status: 404,
        code: 'SWY_ERR_MODEL_UNKNOWN',
      },
      {
        what: 'metadata, no key',
        answer: () => get('/v2/models/fraud', {}),
        status: 401,
        code: 'SWY_ERR_AUTH_MISSING_KEY',
      },
      {
        what: 'unknown /v2 route',
        answer: () => get('/v2/nothing/here'),
        status: 404,
        code: 'SWY_ERR_HTTP_NOT_FOUND',
      },
      {
        what: 'unknown /v1/models route',
        answer: () => post('/v1/models/fraud:explain', {}),
        status: 404,
        code: 'SWY_ERR_HTTP_NOT_FOUND',
      },
    ];
    for (const c of cases) {
      const answer = await c.answer();
      assert.equal(answer.status, c.status, `${c.what}: ${answer.text}`);
      assertFits(ErrorResponse, answer.body, c.what);
      const body = answer.body as { error: string; code: string };
      assert.equal(typeof body.error, 'string', c.what);
      assert.ok(body.error.length > 0, c.what);
      assert.equal(body.code, c.code, `${c.what}: ${answer.text}`);
      assert.equal(answer.headers['x-switchyard-error-code'], c.code, c.what);
      assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8', c.what);
    }
    // Problems keep their paths beside the message.
    const invalid = (
      await post('/v2/models/fraud/infer', {
        inputs: [{ name: 'features', shape: [1, 8], datatype: 'FP32', data: [1] }],
      })
    ).body as { problems?: { path: string }[] };
    assert.ok(
      invalid.problems?.some((p) => p.path.startsWith('/inputs/0')),
      JSON.stringify(invalid),
    );

    // The decision API and admin keep their richer shape; the header is there too.
    for (const answer of [
      await post('/v1/decisions/fraud', { features: {} }),
      await get('/admin/config', {}),
    ]) {
      const error = (answer.body as { error: { code: string; message: string } }).error;
      assert.equal(typeof error.code, 'string', answer.text);
      assert.equal(typeof error.message, 'string', answer.text);
    }
    const decision = await post('/v1/decisions/fraud', { features: {} });
    assert.equal(decision.headers['x-switchyard-error-code'], 'SWY_ERR_INPUT_INVALID');
  });

  test('a version pin: metadata and inference of that version, for keys with the pin scope', async () => {
    const metadata = await get('/v2/models/fraud/versions/2');
    assert.equal(metadata.status, 200, metadata.text);
    assertFits(MetadataModelResponse, metadata.body, 'version metadata');
    const described = metadata.body as { name: string; versions: string[] };
    assert.deepEqual([described.name, described.versions], ['fraud', ['2']]);
    assertRefused(await get('/v2/models/fraud/versions/9'), 404, 'SWY_ERR_MODEL_UNKNOWN_VERSION');

    const rows = fraudRows(3, 19);
    const direct = await postJson(
      client,
      `${runtime.url}/v2/models/fraud/versions/2/infer`,
      fraudRequest(rows),
    );
    const expected = (direct.body as { outputs: { data: number[] }[] }).outputs[0]!.data;
    const before = metricValue((await get('/metrics', {})).text, 'switchyard_route_assignments_total', {
      variant: 'v2',
      source: 'pinned',
    });
    const ids: string[] = [];
    for (const [i, path] of [
      '/v2/models/fraud/versions/2/infer',
      '/v2/models/fraud/versions/2/infer?door=fastify',
    ].entries()) {
      const id = `pin-${i}`;
      ids.push(id);
      const answer = await post(path, fraudRequest(rows, id), {
        ...pinner.auth,
        'x-user-id': 'u-7',
        'x-request-id': id,
      });
      assert.equal(answer.status, 200, `${path}: ${answer.text}`);
      assertFits(InferenceResponse, answer.body, path);
      const body = answer.body as {
        model_name: string;
        model_version: string;
        id: string;
        outputs: { data: number[] }[];
      };
      assert.deepEqual([body.model_name, body.model_version, body.id], ['fraud', '2', id]);
      assert.deepEqual(body.outputs[0]!.data, expected, 'the pinned version answered');
      assert.equal(answer.headers['x-switchyard-variant'], 'v2');
    }
    // debug may pin too; unpinned, the same user is assigned v1 (weight 100).
    assert.equal(
      (await post('/v2/models/fraud/versions/2/infer', fraudRequest(rows), { ...AUTH, 'x-user-id': 'u-7' }))
        .status,
      200,
    );
    const unpinned = await post('/v2/models/fraud/infer', fraudRequest(rows), {
      ...pinner.auth,
      'x-user-id': 'u-7',
      'x-request-id': 'unpinned',
    });
    assert.equal((unpinned.body as { model_version: string }).model_version, '1');

    const after = metricValue((await get('/metrics', {})).text, 'switchyard_route_assignments_total', {
      variant: 'v2',
      source: 'pinned',
    });
    assert.equal(after - before, 3);

    assertRefused(
      await post('/v2/models/fraud/versions/2/infer', fraudRequest(rows), checkout.auth),
      403,
      'SWY_ERR_ROUTE_PIN_FORBIDDEN',
    );
    assertRefused(
      await post('/v2/models/fraud/versions/9/infer', fraudRequest(rows), pinner.auth),
      404,
      'SWY_ERR_MODEL_UNKNOWN_VERSION',
    );
    assertRefused(
      await post('/v2/models/nope/versions/2/infer', fraudRequest(rows), pinner.auth),
      404,
      'SWY_ERR_MODEL_UNKNOWN',
    );

    // The prediction log says how each request was assigned.
    const records = await waitFor('the records of the pinned requests', async () => {
      const text = await readFile(join(gateway.dir, 'predictions.jsonl'), 'utf8').catch(() => '');
      const all = text
        .split('\n')
        .filter(Boolean)
        .map(
          (line) =>
            JSON.parse(line) as { request_id: string; assignment: string | null; version: string | null },
        );
      const wanted = all.filter((r) => [...ids, 'unpinned'].includes(r.request_id));
      return wanted.length === 3 ? wanted : undefined;
    });
    for (const record of records) {
      const pinned = record.request_id !== 'unpinned';
      assert.deepEqual(
        [record.assignment, record.version],
        pinned ? ['pinned', '2'] : ['key', '1'],
        record.request_id,
      );
    }
  });

  test('KServe v1: liveness, the model list, model readiness and the "inputs" form of :predict', async () => {
    // KServe's v1 data plane (kserve.github.io, "V1 Inference Protocol").
    assert.deepEqual([(await get('/', {})).status, (await get('/', {})).body], [200, { status: 'alive' }]);
    assert.deepEqual((await get('/v1/models')).body, { models: ['fraud'] });
    assertRefused(await get('/v1/models', {}), 401, 'SWY_ERR_AUTH_MISSING_KEY');
    const model = await get('/v1/models/fraud');
    assert.deepEqual([model.status, model.body], [200, { name: 'fraud', ready: true }]);
    assertRefused(await get('/v1/models/nope'), 404, 'SWY_ERR_MODEL_UNKNOWN');
    assertRefused(await get('/v1/models/fraud', ops.auth), 403, 'SWY_ERR_AUTH_FORBIDDEN');

    const rows = fraudRows(2, 23);
    const headers = { ...AUTH, 'x-user-id': 'u-1' };
    const instances = await post('/v1/models/fraud:predict', { instances: rows }, headers);
    assert.equal(instances.status, 200, instances.text);
    const inputs = await post('/v1/models/fraud:predict', { inputs: rows }, headers);
    assert.equal(inputs.status, 200, inputs.text);
    assert.deepEqual(inputs.body, instances.body, 'the two forms are the same request');
    assert.equal((inputs.body as { predictions: number[] }).predictions.length, 2);

    const both = await post('/v1/models/fraud:predict', { instances: rows, inputs: rows }, headers);
    assertRefused(both, 400, 'SWY_ERR_INPUT_INVALID');
    const columnar = await post('/v1/models/fraud:predict', { inputs: { features: rows } }, headers);
    assertRefused(columnar, 400, 'SWY_ERR_INPUT_INVALID');
    assert.match((columnar.body as { error: string }).error, /\/inputs must be a non-empty array of rows/);
    const neither = await post('/v1/models/fraud:predict', { rows }, headers);
    assert.match(
      (neither.body as { error: string }).error,
      /\/instances must be a non-empty array \(or send "inputs"\)/,
    );

    // Not ready: 503 with the same body shape.
    assert.equal((await post('/admin/upstreams/onnx/drain', { endpoint: runtime.url })).status, 200);
    try {
      const down = await get('/v1/models/fraud');
      assert.deepEqual([down.status, down.body], [503, { name: 'fraud', ready: false }]);
    } finally {
      assert.equal((await post('/admin/upstreams/onnx/undrain', { endpoint: runtime.url })).status, 200);
    }
    await waitFor('ready again', async () => (await get('/v1/models/fraud')).status === 200);
  });

  test('one contract rule: a feature out of range is refused alike on all three endpoints', async () => {
    const row = fraudRows(1, 29)[0]!;
    const tooMuch = [99999, ...row.slice(1)]; // transaction_amount: max 20000
    const headers = { ...AUTH, 'x-user-id': 'u-3' };
    const answers = {
      decision: await post('/v1/decisions/fraud', decisionBody(tooMuch, 'u-3'), headers),
      predict: await post('/v1/models/fraud:predict', { instances: [row, tooMuch] }, headers),
      inputs: await post('/v1/models/fraud:predict', { inputs: [tooMuch] }, headers),
      infer: await post('/v2/models/fraud/infer', fraudRequest([row, tooMuch]), headers),
    };
    const paths: Record<keyof typeof answers, string> = {
      decision: '/features/transaction_amount',
      predict: '/instances/1/0',
      inputs: '/inputs/0/0',
      infer: '/inputs/0/data/8',
    };
    for (const [endpoint, answer] of Object.entries(answers) as [keyof typeof answers, JsonResponse][]) {
      assertRefused(answer, 400, 'SWY_ERR_INPUT_INVALID');
      const problems =
        endpoint === 'decision'
          ? (answer.body as { error: { problems: { path: string; message: string }[] } }).error.problems
          : (answer.body as { problems: { path: string; message: string }[] }).problems;
      assert.equal(problems.length, 1, `${endpoint}: ${answer.text}`);
      assert.equal(problems[0]!.path, paths[endpoint], endpoint);
      assert.match(problems[0]!.message, /99999 is above the maximum 20000/, endpoint);
    }
    // In range, every endpoint serves.
    assert.equal((await post('/v1/models/fraud:predict', { instances: [row] }, headers)).status, 200);
    assert.equal((await post('/v2/models/fraud/infer', fraudRequest([row]), headers)).status, 200);
  });
});

/** A refusal: its status and its machine-readable code. */
function assertRefused(response: JsonResponse, status: number, code: ErrorCode): void {
  assert.equal(response.status, status, response.text);
  assert.equal(response.headers['x-switchyard-error-code'], code);
  assert.equal(wireError(response.body)?.code, code, response.text);
}
