import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, getJson, postJson, wireError } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import { waitFor } from '../harness/process.js';
import type { ErrorName } from '../../src/errors.js';

const client = createClient();
let runtime: StartedProcess;
let gateway: GatewayUnderTest;
const row = fraudRows(1)[0]!;
const good = decisionBody(row, 'u-1');
const tensor = (overrides: Record<string, unknown>) => ({
  inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: row, ...overrides }],
});

before(async () => {
  runtime = await startRuntime();
  gateway = await startGateway({ ...fraudGatewayConfig([runtime.url]), limits: { body_bytes: 4096 } });
  // Tensor checks use the runtime's metadata, fetched once the gateway has seen the runtime.
  await waitFor('metadata', async () => {
    const response = await postJson(
      client,
      `${gateway.url}/v2/models/fraud/infer`,
      tensor({ shape: [1, 7] }),
      AUTH,
    );
    return response.status === 400 && response.text.includes('/inputs/0/shape');
  });
});
after(async () => {
  await client.close();
  assert.equal(await gateway.stop(), 0);
  assert.equal(await runtime.stop(), 0);
});

type Case = {
  what: string;
  path: string;
  body: unknown;
  status: number;
  code: ErrorName;
  problem?: string;
  headers?: Record<string, string>;
};
const features = (changes: Record<string, unknown>) => ({
  ...good,
  features: { ...good.features, ...changes },
});
const { transaction_amount: _dropped, ...withoutAmount } = good.features;

const cases: Case[] = [
  // HTTP layer
  {
    what: 'malformed JSON',
    path: '/v1/decisions/fraud',
    body: '{"features": {',
    status: 400,
    code: 'HTTP_MALFORMED_JSON',
  },
  {
    what: 'truncated JSON',
    path: '/v2/models/fraud/infer',
    body: '{"inputs": [{"name"',
    status: 400,
    code: 'HTTP_MALFORMED_JSON',
  },
  {
    what: 'NaN literal',
    path: '/v2/models/fraud/infer',
    body: '{"inputs": [{"name": "features", "data": [NaN]}]}',
    status: 400,
    code: 'HTTP_MALFORMED_JSON',
  },
  {
    what: 'body over limits.body_bytes',
    path: '/v1/decisions/fraud',
    body: { ...good, pad: 'x'.repeat(5000) },
    status: 413,
    code: 'HTTP_BODY_TOO_LARGE',
  },
  {
    what: 'unknown model (decision)',
    path: '/v1/decisions/nope',
    body: good,
    status: 404,
    code: 'MODEL_UNKNOWN',
  },
  {
    what: 'unknown model (infer)',
    path: '/v2/models/nope/infer',
    body: tensor({}),
    status: 404,
    code: 'MODEL_UNKNOWN',
  },
  {
    what: 'unknown model (predict)',
    path: '/v1/models/nope:predict',
    body: { instances: [row] },
    status: 404,
    code: 'MODEL_UNKNOWN',
  },
  {
    what: 'unknown verb',
    path: '/v1/models/fraud:explain',
    body: { instances: [row] },
    status: 404,
    code: 'HTTP_NOT_FOUND',
  },
  { what: 'unknown route', path: '/v3/whatever', body: {}, status: 404, code: 'HTTP_NOT_FOUND' },
  // decision contract
  {
    what: 'decision: not an object',
    path: '/v1/decisions/fraud',
    body: [1, 2],
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/',
  },
  {
    what: 'decision: no features',
    path: '/v1/decisions/fraud',
    body: { user_id: 'u' },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/features',
  },
  {
    what: 'decision: features an array',
    path: '/v1/decisions/fraud',
    body: { features: [1, 2] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/features',
  },
  {
    what: 'decision: missing feature',
    path: '/v1/decisions/fraud',
    body: { features: withoutAmount },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/features/transaction_amount',
  },
  {
    what: 'decision: unknown feature',
    path: '/v1/decisions/fraud',
    body: features({ colour: 1 }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/features/colour',
  },
  {
    what: 'decision: string value',
    path: '/v1/decisions/fraud',
    body: features({ hour_of_day: 'noon' }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/features/hour_of_day',
  },
  {
    what: 'decision: null value',
    path: '/v1/decisions/fraud',
    body: features({ country_risk: null }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/features/country_risk',
  },
  {
    what: 'decision: below minimum',
    path: '/v1/decisions/fraud',
    body: features({ transaction_amount: -1 }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/features/transaction_amount',
  },
  {
    what: 'decision: above maximum',
    path: '/v1/decisions/fraud',
    body: features({ hour_of_day: 24 }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/features/hour_of_day',
  },
  {
    what: 'decision: nested object value',
    path: '/v1/decisions/fraud',
    body: features({ device_risk_score: { v: 1 } }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/features/device_risk_score',
  },
  {
    what: 'decision: bad user_id',
    path: '/v1/decisions/fraud',
    body: { ...good, user_id: { id: 1 } },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/user_id',
  },
  // KServe v1 predict
  {
    what: 'predict: no instances',
    path: '/v1/models/fraud:predict',
    body: {},
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/instances',
  },
  {
    what: 'predict: empty instances',
    path: '/v1/models/fraud:predict',
    body: { instances: [] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/instances',
  },
  {
    what: 'predict: ragged instances',
    path: '/v1/models/fraud:predict',
    body: { instances: [row, row.slice(0, 7)] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/instances/1',
  },
  {
    what: 'predict: non-numeric instance',
    path: '/v1/models/fraud:predict',
    body: { instances: [['a', 'b']] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/instances/0',
  },
  {
    what: 'predict: wrong width',
    path: '/v1/models/fraud:predict',
    body: { instances: [row.slice(0, 5)] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/shape',
  },
  {
    what: 'predict: bad named instance',
    path: '/v1/models/fraud:predict',
    body: { instances: [{ ...good.features, hour_of_day: 99 }] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/instances/0/hour_of_day',
  },
  // Open Inference Protocol tensors, checked against the runtime's metadata
  {
    what: 'infer: not an object',
    path: '/v2/models/fraud/infer',
    body: [],
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/',
  },
  {
    what: 'infer: no inputs',
    path: '/v2/models/fraud/infer',
    body: {},
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs',
  },
  {
    what: 'infer: empty inputs',
    path: '/v2/models/fraud/infer',
    body: { inputs: [] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs',
  },
  {
    what: 'infer: id not a string',
    path: '/v2/models/fraud/infer',
    body: { ...tensor({}), id: 5 },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/id',
  },
  {
    what: 'infer: unknown input name',
    path: '/v2/models/fraud/infer',
    body: tensor({ name: 'x' }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/name',
  },
  {
    what: 'infer: wrong datatype',
    path: '/v2/models/fraud/infer',
    body: tensor({ datatype: 'INT64' }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/datatype',
  },
  {
    what: 'infer: unsupported datatype',
    path: '/v2/models/fraud/infer',
    body: tensor({ datatype: 'BYTES' }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/datatype',
  },
  {
    what: 'infer: wrong rank',
    path: '/v2/models/fraud/infer',
    body: tensor({ shape: [8] }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/shape',
  },
  {
    what: 'infer: wrong fixed dimension',
    path: '/v2/models/fraud/infer',
    body: tensor({ shape: [1, 9] }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/shape',
  },
  {
    what: 'infer: negative dimension',
    path: '/v2/models/fraud/infer',
    body: tensor({ shape: [-1, 8] }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/shape',
  },
  {
    what: 'infer: shape not an array',
    path: '/v2/models/fraud/infer',
    body: tensor({ shape: '1x8' }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/shape',
  },
  {
    what: 'infer: too few values',
    path: '/v2/models/fraud/infer',
    body: tensor({ data: row.slice(0, 6) }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/data',
  },
  {
    what: 'infer: too many values',
    path: '/v2/models/fraud/infer',
    body: tensor({ data: [...row, 1, 2] }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/data',
  },
  {
    what: 'infer: string values',
    path: '/v2/models/fraud/infer',
    body: tensor({ data: row.map(String) }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/data/0',
  },
  {
    what: 'infer: data not an array',
    path: '/v2/models/fraud/infer',
    body: tensor({ data: 3 }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/data',
  },
  {
    what: 'infer: input given twice',
    path: '/v2/models/fraud/infer',
    body: { inputs: [tensor({}).inputs[0], tensor({}).inputs[0]] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/1/name',
  },
  {
    what: 'infer: input not an object',
    path: '/v2/models/fraud/infer',
    body: { inputs: [7] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0',
  },
  // What passed validation and then failed at the runtime (or answered 200 with garbage).
  {
    what: 'infer: a number too large for a double (JSON.parse: Infinity, forwarded as null)',
    path: '/v2/models/fraud/infer',
    body: `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,8],"data":[1e309,${row.slice(1).join(',')}]}]}`,
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/data/0',
  },
  {
    what: 'infer: a number too large for FP32',
    path: '/v2/models/fraud/infer',
    body: tensor({ data: [1e39, ...row.slice(1)] }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/data/0',
  },
  {
    what: 'predict: a number too large for FP32',
    path: '/v1/models/fraud:predict',
    body: { instances: [[-1e39, ...row.slice(1)]] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/data/0',
  },
  {
    what: 'infer: zero rows',
    path: '/v2/models/fraud/infer',
    body: tensor({ shape: [0, 8], data: [] }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/shape',
  },
  {
    what: "infer: more rows than the runtime's max_batch_size",
    path: '/v2/models/fraud/infer',
    body: tensor({ shape: [65, 8], data: new Array<number>(65 * 8).fill(0) }),
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/inputs/0/shape',
  },
  {
    what: 'infer: an unknown output',
    path: '/v2/models/fraud/infer',
    body: { ...tensor({}), outputs: [{ name: 'nope' }] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/outputs/0/name',
  },
  {
    what: 'infer: an empty list of outputs',
    path: '/v2/models/fraud/infer',
    body: { ...tensor({}), outputs: [] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/outputs',
  },
  {
    what: 'infer: an output asked for twice',
    path: '/v2/models/fraud/infer',
    body: { ...tensor({}), outputs: [{ name: 'score' }, { name: 'score' }] },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/outputs/1/name',
  },
  {
    what: 'infer: parameters that are not an object',
    path: '/v2/models/fraud/infer',
    body: { ...tensor({}), parameters: 'fast' },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/parameters',
  },
  {
    what: "infer: the binary tensor extension's request flag not a boolean",
    path: '/v2/models/fraud/infer',
    body: { ...tensor({}), parameters: { binary_data_output: 'yes' } },
    status: 400,
    code: 'INPUT_INVALID',
    problem: '/parameters/binary_data_output',
  },
  // routing and auth
  {
    what: 'force header without a key',
    path: '/v1/decisions/fraud',
    body: good,
    status: 401,
    code: 'AUTH_MISSING_KEY',
    headers: { 'x-switchyard-force-variant': 'v2' },
  },
  {
    what: 'force header to an unknown variant',
    path: '/v1/decisions/fraud',
    body: good,
    status: 400,
    code: 'ROUTE_UNKNOWN_VARIANT',
    headers: { ...AUTH, 'x-switchyard-force-variant': 'v9' },
  },
  {
    what: 'no key',
    path: '/v1/decisions/fraud',
    body: good,
    status: 401,
    code: 'AUTH_MISSING_KEY',
    headers: {},
  },
  {
    what: 'wrong key',
    path: '/v1/decisions/fraud',
    body: good,
    status: 401,
    code: 'AUTH_UNKNOWN_KEY',
    headers: { 'x-api-key': `${DEMO_KEY}x` },
  },
  {
    what: 'Basic authorization',
    path: '/v1/decisions/fraud',
    body: good,
    status: 401,
    code: 'AUTH_MISSING_KEY',
    headers: { authorization: 'Basic Zm9vOmJhcg==' },
  },
];

async function send(c: Case) {
  const payload = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
  const response = await request(`${gateway.url}${c.path}`, {
    method: 'POST',
    dispatcher: client,
    headers: { 'content-type': 'application/json', ...(c.headers ?? AUTH) },
    body: payload,
  });
  const text = await response.body.text();
  return { status: response.statusCode, text };
}

test('at least 40 malformed requests are covered', () =>
  assert.ok(cases.length >= 40, `${cases.length} cases`));

for (const c of cases) {
  test(`${c.what} → ${c.status} SWY_ERR_${c.code}`, async () => {
    const { status, text } = await send(c);
    assert.equal(status, c.status, text);
    const parsed = wireError(text);
    assert.equal(parsed?.code, `SWY_ERR_${c.code}`, text);
    assert.doesNotMatch(text, /at .*\.(ts|js):\d+/, 'no stack trace');
    assert.ok(!text.includes(DEMO_KEY), 'the key is never echoed');
    if (c.problem)
      assert.ok(
        parsed.problems?.some((p) => p.path === c.problem),
        `no problem at ${c.problem}: ${text}`,
      );
  });
}

test('after every bad request the gateway still serves, and nothing bad reached the runtime', async () => {
  const before = (await getJson(client, `${runtime.url}/metrics`)).text;
  await Promise.all(cases.map(send));
  const after = (await getJson(client, `${runtime.url}/metrics`)).text;
  assert.equal(
    after.match(/outcome="bad_request"} (\d+)/)?.[1] ?? '0',
    before.match(/outcome="bad_request"} (\d+)/)?.[1] ?? '0',
  );
  const response = await postJson(client, `${gateway.url}/v1/decisions/fraud`, good, AUTH);
  assert.equal(response.status, 200, response.text);
  assert.equal(gateway.child.exitCode, null);
});
