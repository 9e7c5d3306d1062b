import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Agent } from 'undici';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

let runtime: StartedProcess;
let client: Agent;
before(async () => {
  runtime = await startRuntime({ args: ['--max-body-bytes', '65536'] });
  client = createClient();
});
after(async () => {
  await client.close();
  assert.equal(await runtime.stop(), 0);
});

const row = fraudRows(1)[0]!;
const input = (overrides: Record<string, unknown>) => ({
  inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: row, ...overrides }],
});

/** [what, path, body, status, a phrase the error must contain (the field it names)] */
const cases: [string, string, unknown, number, RegExp][] = [
  ['unknown model', '/v2/models/nope/infer', fraudRequest([row]), 404, /unknown model "nope"/],
  ['unknown version', '/v2/models/fraud/versions/7/infer', fraudRequest([row]), 404, /no version "7"/],
  ['malformed JSON', '/v2/models/fraud/infer', '{"inputs": [', 400, /JSON/],
  ['not an object', '/v2/models/fraud/infer', '[1,2]', 400, /JSON object/],
  ['no inputs', '/v2/models/fraud/infer', {}, 400, /"inputs" must be an array/],
  ['missing input', '/v2/models/fraud/infer', { inputs: [] }, 400, /missing input "features"/],
  [
    'unknown input',
    '/v2/models/fraud/infer',
    { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 8], data: row }] },
    400,
    /inputs\[0\]\.name/,
  ],
  [
    'wrong datatype',
    '/v2/models/fraud/infer',
    input({ datatype: 'INT32' }),
    400,
    /inputs\[0\]\.datatype: expected FP32/,
  ],
  [
    'unsupported datatype',
    '/v2/models/fraud/infer',
    input({ datatype: 'BYTES' }),
    400,
    /inputs\[0\]\.datatype/,
  ],
  ['shape of wrong rank', '/v2/models/fraud/infer', input({ shape: [8] }), 400, /inputs\[0\]\.shape/],
  [
    'fixed dimension mismatch',
    '/v2/models/fraud/infer',
    input({ shape: [1, 9] }),
    400,
    /does not fit the model's \[N, 8\]/,
  ],
  ['negative dimension', '/v2/models/fraud/infer', input({ shape: [-1, 8] }), 400, /inputs\[0\]\.shape/],
  ['zero rows', '/v2/models/fraud/infer', input({ shape: [0, 8], data: [] }), 400, /at least one row/],
  [
    'too few values',
    '/v2/models/fraud/infer',
    input({ data: row.slice(0, 7) }),
    400,
    /inputs\[0\]\.data: 7 values/,
  ],
  [
    'too many values',
    '/v2/models/fraud/infer',
    input({ data: [...row, 1] }),
    400,
    /inputs\[0\]\.data: 9 values/,
  ],
  [
    'a string value',
    '/v2/models/fraud/infer',
    input({ data: ['1', ...row.slice(1)] }),
    400,
    /inputs\[0\]\.data\[0\]/,
  ],
  [
    'data not an array',
    '/v2/models/fraud/infer',
    input({ data: 5 }),
    400,
    /inputs\[0\]\.data must be an array/,
  ],
  [
    'batch above max_batch_size',
    '/v2/models/fraud/infer',
    fraudRequest(fraudRows(65)),
    400,
    /max_batch_size 64/,
  ],
  [
    'unknown output',
    '/v2/models/fraud/infer',
    { ...fraudRequest([row]), outputs: [{ name: 'nope' }] },
    400,
    /outputs\[0\]\.name/,
  ],
  ['bad timeout header', '/v2/models/fraud/infer', fraudRequest([row]), 400, /x-request-timeout-ms/],
  // Each of these answered 200 with garbage or 500 before.
  [
    'a number too large for a double (JSON.parse makes it Infinity)',
    '/v2/models/fraud/infer',
    `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,8],"data":[1e309,${row.slice(1).join(',')}]}]}`,
    400,
    /inputs\[0\]\.data\[0\]: Infinity is not a valid FP32 value/,
  ],
  [
    'a number too large for FP32',
    '/v2/models/fraud/infer',
    input({ data: [1e39, ...row.slice(1)] }),
    400,
    /inputs\[0\]\.data\[0\]: 1e\+39 is not a valid FP32 value/,
  ],
  [
    'a shape claiming 10^11 rows (allocated before the data was counted: 500)',
    '/v2/models/fraud/infer',
    input({ shape: [1e11, 8] }),
    400,
    /inputs\[0\]\.shape: batch of 100000000000 rows is above the model's max_batch_size 64/,
  ],
  [
    'finite inputs the model turns into NaN',
    '/v2/models/fraud/versions/1/infer',
    input({ data: [-3e38, -3e38, -1e38, 3e38, 0, 0, 3e38, 1e38] }),
    400,
    /the model's output "score" is NaN for this input/,
  ],
  [
    'an empty list of outputs',
    '/v2/models/fraud/infer',
    { ...fraudRequest([row]), outputs: [] },
    400,
    /"outputs" must name at least one output/,
  ],
  [
    'an output asked for twice',
    '/v2/models/fraud/infer',
    { ...fraudRequest([row]), outputs: [{ name: 'score' }, { name: 'score' }] },
    400,
    /outputs\[1\]\.name: "score" is asked for twice/,
  ],
  [
    'parameters that are not an object',
    '/v2/models/fraud/infer',
    { ...fraudRequest([row]), parameters: 'fast' },
    400,
    /parameters must be an object/,
  ],
  [
    'a parameter that is an object',
    '/v2/models/fraud/infer',
    input({ parameters: { shm: { region: 'x' } } }),
    400,
    /inputs\[0\]\.parameters\.shm must be a string, a number or a boolean/,
  ],
  [
    'output parameters that are not an object',
    '/v2/models/fraud/infer',
    { ...fraudRequest([row]), outputs: [{ name: 'score', parameters: [true] }] },
    400,
    /outputs\[0\]\.parameters must be an object/,
  ],
  [
    'body too large',
    '/v2/models/fraud/infer',
    fraudRequest(fraudRows(2000)),
    413,
    /larger than the limit of 65536 bytes/,
  ],
];

const headersFor = (what: string): Record<string, string> =>
  what === 'bad timeout header' ? { 'x-request-timeout-ms': 'soon' } : {};

for (const [what, path, body, status, phrase] of cases) {
  test(`bad input: ${what} → ${status}`, async () => {
    const response = await postJson(client, `${runtime.url}${path}`, body, headersFor(what));
    assert.equal(response.status, status, response.text);
    const error = (response.body as { error?: unknown }).error;
    assert.equal(typeof error, 'string', response.text);
    assert.match(error as string, phrase);
  });
}

test('a burst of bad requests leaves the server serving', async () => {
  const burst = Array.from({ length: 300 }, (_, i) => {
    const [what, path, body] = cases[i % cases.length]!;
    return postJson(client, `${runtime.url}${path}`, body, headersFor(what));
  });
  const answers = await Promise.all(burst);
  const statuses = new Set(answers.map((a) => a.status));
  assert.ok(
    [...statuses].every((s) => s >= 400 && s < 500),
    `statuses ${[...statuses].join(', ')}`,
  );
  const good = await postJson(client, `${runtime.url}/v2/models/fraud/infer`, fraudRequest([row]));
  assert.equal(good.status, 200);
  assert.equal((await getJson(client, `${runtime.url}/v2/health/ready`)).status, 200);
  assert.equal(runtime.child.exitCode, null);
});
