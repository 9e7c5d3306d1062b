import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, postJson, wireError } from '../harness/http.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { readJsonl } from '../telemetry/prediction-log-harness.js';
import type { ErrorCode } from '../../src/errors.js';

// Hostile nesting (issue 22 items 1 and 2): a body nested far deeper than any model input is
// refused at parse time with 400 on every model endpoint, whichever front door takes it, and
// recorded like any refused request; and it never reaches a stage, a shadow or a record builder
// that recurses into it (JSON.stringify overflows the stack near 5,000 levels, and a throw in the
// shadow's deferred flush used to kill the process).

const client = createClient();
let runtime: StartedProcess;
let gateway: GatewayUnderTest;
const row = fraudRows(1)[0]!;
const good = decisionBody(row, 'u-deep');
const TOO_DEEP: ErrorCode = 'SWY_ERR_HTTP_JSON_TOO_DEEP';

/** `levels` arrays nested in one another: 2 bytes a level. */
const deepArray = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
/** `levels` objects nested in one another, as the issue's `parameters`: 6 bytes a level. */
const deepObject = (levels: number) => '{"p":'.repeat(levels) + '1' + '}'.repeat(levels);

/** `body`'s JSON with the placeholder string "DEEP" replaced by `deep` (raw JSON text). */
const withDeep = (body: object, deep: string) => JSON.stringify(body).replace('"DEEP"', deep);

const tensor = { name: 'features', datatype: 'FP32', shape: [1, 8], data: row };
const featuresWith = (name: string, value: unknown) => ({
  ...good,
  features: { ...good.features, [name]: value },
});

/** The nine cases: three places per endpoint, each 100,000 levels deep. */
const LEVELS = 100_000;
const cases: { what: string; path: string; body: string }[] = [
  {
    what: 'decision: a feature value',
    path: '/v1/decisions/fraud',
    body: withDeep(featuresWith('hour_of_day', 'DEEP'), deepArray(LEVELS)),
  },
  {
    what: 'decision: user_id',
    path: '/v1/decisions/fraud',
    body: withDeep({ ...good, user_id: 'DEEP' }, deepObject(LEVELS)),
  },
  {
    what: 'decision: parameters',
    path: '/v1/decisions/fraud',
    body: withDeep({ ...good, parameters: 'DEEP' }, deepObject(LEVELS)),
  },
  {
    what: 'predict: an instance',
    path: '/v1/models/fraud:predict',
    body: withDeep({ instances: ['DEEP'] }, deepArray(LEVELS)),
  },
  {
    what: 'predict: a named feature of an instance',
    path: '/v1/models/fraud:predict',
    body: withDeep({ instances: [{ ...good.features, country_risk: 'DEEP' }] }, deepArray(LEVELS)),
  },
  {
    what: 'predict: parameters',
    path: '/v1/models/fraud:predict',
    body: withDeep({ instances: [row], parameters: 'DEEP' }, deepObject(LEVELS)),
  },
  {
    what: 'infer: tensor data',
    path: '/v2/models/fraud/infer',
    body: withDeep({ inputs: [{ ...tensor, data: 'DEEP' }] }, deepArray(LEVELS)),
  },
  {
    what: 'infer: parameters',
    path: '/v2/models/fraud/infer',
    body: withDeep({ inputs: [tensor], parameters: 'DEEP' }, deepObject(LEVELS)),
  },
  {
    what: 'infer: outputs',
    path: '/v2/models/fraud/infer',
    body: withDeep({ inputs: [tensor], outputs: 'DEEP' }, deepArray(LEVELS)),
  },
];

before(async () => {
  runtime = await startRuntime();
  // The setup: a shadow of every request, the result cache, the prediction log.
  gateway = await startGateway(
    fraudGatewayConfig([runtime.url], {
      weights: [100, 0],
      model: {
        shadows: [{ name: 'mirror', upstream: 'onnx', model: 'fraud', version: '2', percent: 100 }],
        cache: { ttl_ms: 60_000 },
      },
    }),
  );
  await upstreamHealthy(client, gateway.url);
});
after(async () => {
  await client.close();
  assert.equal(await gateway.stop(), 0);
  assert.equal(await runtime.stop(), 0);
});

/** The gateway process is still the one started, and still answers a valid request with 200. */
async function assertServing(): Promise<void> {
  assert.equal(gateway.child.exitCode, null, 'the gateway process is alive');
  assert.doesNotThrow(() => process.kill(gateway.pid, 0), 'its pid is alive');
  const response = await postJson(client, `${gateway.url}/v1/decisions/fraud`, good, AUTH);
  assert.equal(response.status, 200, response.text);
}

for (const c of cases) {
  for (const door of ['fast path', 'Fastify'] as const) {
    test(`${c.what} nested ${LEVELS} deep → 400 ${TOO_DEEP} (${door})`, async () => {
      // A query string sends a model URL through Fastify (src/http/model-server.ts).
      const url = `${gateway.url}${c.path}${door === 'Fastify' ? '?door=fastify' : ''}`;
      const requestId = `deep-${cases.indexOf(c)}-${door === 'Fastify' ? 'f' : 'n'}`;
      const response = await postJson(client, url, c.body, { ...AUTH, 'x-request-id': requestId });
      assert.equal(response.status, 400, response.text);
      const error = wireError(response.body);
      assert.equal(error?.code, TOO_DEEP, response.text);
      assert.match(error.message, /deeper than the limit: 64 levels/);
      assert.equal(response.headers['x-request-id'], requestId);
      await assertServing();
    });
  }
}

test('a refused deep body gets its log line and its prediction record', async () => {
  const requestId = 'deep-recorded';
  const response = await postJson(client, `${gateway.url}/v1/decisions/fraud`, cases[0]!.body, {
    ...AUTH,
    'x-request-id': requestId,
  });
  assert.equal(response.status, 400, response.text);
  const line = await waitFor('the request log line', () =>
    gateway.logs.find((l) => l.request_id === requestId && l.status === 400),
  );
  assert.equal(line.code, TOO_DEEP);
  assert.equal(line.model, 'fraud');
  assert.equal(line.endpoint, 'decision');
  const record = await waitFor(
    'the prediction record',
    async () =>
      (await readJsonl(join(gateway.dir, 'predictions.jsonl'))).find(
        (r) => r.kind === 'prediction' && r.request_id === requestId,
      ),
    10_000,
    100,
  );
  assert.equal(record.status, 400);
  assert.equal(record.code, TOO_DEEP);
  assert.equal(record.model, 'fraud');
  assert.equal(record.endpoint, 'decision');
  assert.ok(
    !gateway.logs.some((l) => String(l.msg).includes('could not be built')),
    'no record was lost to the nesting',
  );
});

test("the issue's 10,000-deep parameters with a shadow: 400, and the process lives on", async () => {
  // Copies share a shadow call only once the shadow's metadata says its runtime batches, and only
  // when several are queued in one turn: concurrent deep requests beside valid ones.
  await waitFor("the shadow's metadata", () =>
    gateway.logs.some((line) => line.msg === 'runtime metadata fetched' && line.version === '2'),
  );
  const body = withDeep({ inputs: [tensor], parameters: 'DEEP' }, deepObject(10_000));
  for (let round = 0; round < 5; round++) {
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        i % 2 === 0
          ? postJson(client, `${gateway.url}/v2/models/fraud/infer`, body, AUTH)
          : postJson(client, `${gateway.url}/v2/models/fraud/infer`, { inputs: [tensor] }, AUTH),
      ),
    );
    answers.forEach((response, i) => {
      if (i % 2 === 1) return assert.equal(response.status, 200, response.text);
      assert.equal(response.status, 400, response.text);
      assert.equal(wireError(response.body)?.code, TOO_DEEP);
    });
    // The shadow's flush runs at the end of the turn: give it a few turns before looking.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await assertServing();
  }
});

test('nesting up to the limit passes the depth check, one level more is refused by it', async () => {
  // 64 levels: the body object, and 63 arrays in its "parameters".
  const atLimit = withDeep({ inputs: [tensor], parameters: 'DEEP' }, deepArray(63));
  // Past the depth check; the validation then refuses nested parameters (not the protocol's
  // object of scalars) with its own code: what matters here is which check answered.
  const served = await postJson(client, `${gateway.url}/v2/models/fraud/infer`, atLimit, AUTH);
  assert.equal(served.status, 400, served.text);
  assert.equal(wireError(served.body)?.code, 'SWY_ERR_INPUT_INVALID', served.text);
  const overLimit = withDeep({ inputs: [tensor], parameters: 'DEEP' }, deepArray(64));
  const refused = await postJson(client, `${gateway.url}/v2/models/fraud/infer`, overLimit, AUTH);
  assert.equal(refused.status, 400, refused.text);
  assert.equal(wireError(refused.body)?.code, TOO_DEEP);
});

test('an admin body nested too deep is refused with the same code', async () => {
  const body = withDeep({ endpoint: 'DEEP' }, deepArray(LEVELS));
  const response = await postJson(client, `${gateway.url}/admin/upstreams/onnx/drain`, body, AUTH);
  assert.equal(response.status, 400, response.text);
  assert.equal(wireError(response.body)?.code, TOO_DEEP);
  await assertServing();
});
