import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Agent } from 'undici';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { createClient, postJson } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

// The runtime takes requests from the gateway and from clients that call it directly: a body
// nested far deeper than any tensor is refused with 400 before it is parsed, on its fast path and
// on Fastify's routes alike, and the runtime goes on serving (issue 22 item 2).

let runtime: StartedProcess;
let client: Agent;
before(async () => {
  runtime = await startRuntime();
  client = createClient();
});
after(async () => {
  await client.close();
  assert.equal(await runtime.stop(), 0);
});

const row = fraudRows(1)[0]!;
const LEVELS = 100_000;
/** A fraud request whose `field` is `deep` (raw JSON text). */
const withDeep = (field: string, deep: string) =>
  JSON.stringify({ ...fraudRequest([row]), [field]: 'DEEP' }).replace('"DEEP"', deep);
const deepArray = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

const paths = {
  'fast path': '/v2/models/fraud/infer',
  Fastify: '/v2/models/fraud/versions/1/infer?from=test', // a query string goes to Fastify
};

for (const [door, path] of Object.entries(paths)) {
  for (const field of ['parameters', 'outputs']) {
    test(`${field} nested ${LEVELS} deep → 400 (${door})`, async () => {
      const response = await postJson(client, `${runtime.url}${path}`, withDeep(field, deepArray(LEVELS)));
      assert.equal(response.status, 400, response.text);
      assert.deepEqual(response.body, {
        error: 'request body nests arrays and objects deeper than 64 levels',
      });
      const good = await postJson(client, `${runtime.url}${path}`, fraudRequest([row]));
      assert.equal(good.status, 200, good.text);
      assert.equal(runtime.child.exitCode, null);
    });
  }
}

test('tensor data nested too deep → 400; nested up to the limit is served', async () => {
  // The body, "inputs" and the tensor are 3 levels; `data` with `levels` arrays is the rest.
  const nested = (levels: number) => {
    let data: unknown = row;
    for (let i = 1; i < levels; i++) data = [data];
    return { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data }] };
  };
  const served = await postJson(client, `${runtime.url}/v2/models/fraud/infer`, nested(61));
  assert.equal(served.status, 200, served.text);
  const refused = await postJson(client, `${runtime.url}/v2/models/fraud/infer`, nested(62));
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.text, /deeper than 64 levels/);
});
