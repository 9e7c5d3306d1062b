import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY_SHA256,
  FEATURE_NAMES,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { postJson, wireError } from '../harness/http.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { redisMissing, startRedis, type StartedRedis } from '../harness/redis.js';
import { startRuntime } from '../harness/runtime.js';
import { hostileBody, templates, type BodyTemplate } from './hostile.js';

/**
 * The hostile-input campaign of issue 22, kept in the suite: fast-check generates bodies with
 * hostile values (depth, size, types, numbers at the edges, duplicate and prototype keys, lone
 * surrogates) in every place a stage reads, and raw bytes that are not JSON at all, for each
 * model endpoint of a gateway with every stage on (shadow, cache, fallbacks, Redis state) and for
 * the runtime's infer route. For each case: a 4xx with a code, or a 200; never a 5xx; an answer
 * in bounded time; the process alive and serving. After each endpoint: memory near its baseline.
 *
 * Bounded: FUZZ_RUNS cases per endpoint (default 120) and at most FUZZ_SECONDS (default 20) per
 * endpoint. FUZZ_SEED replays a run: each run's seed is printed in the test's output, and so is
 * the count of cases run. `npm run fuzz` runs a longer campaign.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 20);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
/** A case's answer must come within this; the gateway's budget is 250 ms, its fallbacks faster. */
const ANSWER_WITHIN_MS = 5_000;
/** How far the gateway's resident memory may sit above its baseline after a campaign. */
const MEMORY_SLACK_BYTES = 192 * 1024 * 1024;

/** The campaign's gateway keeps its state in Redis: without redis-server every case is skipped. */
const skip = redisMissing();

const row = fraudRows(1)[0]!;
const bodies = templates(row, FEATURE_NAMES);
const client = new Agent({ connections: 4, headersTimeout: ANSWER_WITHIN_MS, bodyTimeout: ANSWER_WITHIN_MS });
let redis: StartedRedis;
let runtimes: StartedProcess[] = [];
let gateway: GatewayUnderTest;
let baselineRss = 0;

before(async () => {
  if (skip) return;
  redis = await startRedis();
  runtimes = await Promise.all([startRuntime(), startRuntime()]);
  const base = fraudGatewayConfig(
    runtimes.map((r) => r.url),
    {
      // A limit no case reaches, so that every request takes a token from Redis.
      tenants: [
        {
          name: 'demo',
          keys: [{ sha256: DEMO_KEY_SHA256 }],
          scopes: ['infer', 'admin', 'debug'],
          rate_limit: { rps: 100_000, burst: 100_000 },
        },
      ],
      model: {
        budget_ms: 250,
        shadows: [{ name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', percent: 100 }],
        cache: { ttl_ms: 60_000 },
        fallback: ['cache', { variant: 'v1' }, { default: { decision: 'review' } }],
      },
    },
  );
  gateway = await startGateway({ ...base, state: { redis_url: redis.url } });
  await upstreamHealthy(client, gateway.url);
  // The tensor checks need the runtime's metadata, fetched once the pool has an endpoint.
  await waitFor('metadata', async () => {
    const response = await postJson(client, `${gateway.url}/v2/models/fraud/infer`, '{"inputs":[]}', AUTH);
    return response.status === 400;
  });
  for (let i = 0; i < 50; i++) await valid('warm-up');
  baselineRss = await residentBytes(gateway.pid);
});

after(async () => {
  await gateway?.stop();
  await Promise.all(runtimes.map((r) => r.stop()));
  await redis?.stop();
  await client.close();
});

/** One request that must be answered 200: the gateway still serves valid callers. */
async function valid(label: string): Promise<void> {
  const response = await postJson(
    client,
    `${gateway.url}/v1/decisions/fraud`,
    decisionBody(row, 'u-ok'),
    AUTH,
  );
  assert.equal(
    response.status,
    200,
    `${label}: a valid request after it got ${response.status} ${response.text}`,
  );
}

async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  assert.ok(kb, `no VmRSS for ${pid}`);
  return Number(kb[1]) * 1024;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Posts `body` and checks the answer: a 200, or a 4xx with the gateway's (or runtime's) error. */
async function checkAnswer(
  url: string,
  body: string | Uint8Array,
  pid: number,
  errorCode: (json: unknown) => boolean,
) {
  let status: number;
  let text: string;
  try {
    const response = await request(url, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': 'application/json', ...AUTH, 'x-user-id': 'u-fuzz' },
      body,
    });
    status = response.statusCode;
    text = await response.body.text();
  } catch (error) {
    assert.ok(alive(pid), `the process died on a ${body.length}-byte body`);
    throw new Error(`no answer within ${ANSWER_WITHIN_MS} ms: ${(error as Error).message}`);
  }
  assert.ok(status < 500, `answered ${status}: ${text.slice(0, 300)}`);
  if (status !== 200) {
    assert.ok(status >= 400, `answered ${status}`);
    let json: unknown;
    assert.doesNotThrow(
      () => (json = JSON.parse(text)),
      `a ${status} whose body is not JSON: ${text.slice(0, 200)}`,
    );
    assert.ok(errorCode(json), `a ${status} without an error code: ${text.slice(0, 300)}`);
  }
}

const gatewayCode = (json: unknown) => wireError(json) !== undefined;
/** The runtime's errors are OIP's: `{"error": "<message>"}`. */
const runtimeError = (json: unknown) => typeof (json as { error?: unknown }).error === 'string';

/** Not JSON at all: random bytes (invalid UTF-8 included), cut-off JSON, an empty body. */
const rawBody = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  fc.constantFrom('', '{', '{"inputs":[', '[', 'null', '"\\ud800"', '{"a":1}}', '\u0000').map((s) => s),
);

async function campaign(
  t: TestContext,
  name: string,
  url: () => string,
  pid: () => number,
  forEndpoint: BodyTemplate[],
  errorCode: (json: unknown) => boolean,
): Promise<void> {
  const seed = SEED ?? Date.now() ^ (Math.random() * 0x7fffffff);
  let cases = 0;
  const property = fc.asyncProperty(
    fc.oneof({ weight: 5, arbitrary: hostileBody(forEndpoint) }, { weight: 1, arbitrary: rawBody }),
    async (body) => {
      cases++;
      await checkAnswer(url(), body, pid(), errorCode);
    },
  );
  const details = await fc.check(property, {
    seed,
    numRuns: RUNS,
    interruptAfterTimeLimit: SECONDS * 1000,
    markInterruptAsFailure: false,
  });
  t.diagnostic(`${name}: ${cases} cases, seed ${seed} (replay with FUZZ_SEED=${seed})`);
  if (details.failed) {
    const shown = String(details.counterexample?.[0] ?? '').slice(0, 400);
    assert.fail(
      `${name}, seed ${seed}, after ${details.numRuns} cases: ${String(details.errorInstance)}\n  body: ${shown}`,
    );
  }
  assert.ok(alive(pid()), `${name}: the process is gone`);
}

test(
  'hostile decision bodies: a 4xx with a code or a 200, the gateway alive and serving',
  { skip },
  async (t) => {
    await campaign(
      t,
      'decision',
      () => `${gateway.url}/v1/decisions/fraud`,
      () => gateway.pid,
      bodies.decision!,
      gatewayCode,
    );
    await valid('decision campaign');
  },
);

test(
  'hostile KServe v1 predict bodies: a 4xx with a code or a 200, the gateway alive and serving',
  { skip },
  async (t) => {
    await campaign(
      t,
      'predict',
      () => `${gateway.url}/v1/models/fraud:predict`,
      () => gateway.pid,
      bodies.predict!,
      gatewayCode,
    );
    await valid('predict campaign');
  },
);

test(
  'hostile OIP infer bodies: a 4xx with a code or a 200, the gateway alive and serving',
  { skip },
  async (t) => {
    await campaign(
      t,
      'infer',
      () => `${gateway.url}/v2/models/fraud/infer`,
      () => gateway.pid,
      bodies.infer!,
      gatewayCode,
    );
    await valid('infer campaign');
  },
);

test(
  'hostile infer bodies straight to the runtime: a 4xx or a 200, the runtime alive and serving',
  { skip },
  async (t) => {
    const runtime = runtimes[0]!;
    const url = () => `${runtime.url}/v2/models/fraud/versions/1/infer`;
    await campaign(t, 'runtime infer', url, () => runtime.pid, bodies.infer!, runtimeError);
    const response = await postJson(
      client,
      url(),
      `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,${row.length}],"data":${JSON.stringify(row)}}]}`,
    );
    assert.equal(response.status, 200, response.text);
  },
);

test(
  'after the campaigns the gateway still serves, with its memory near the baseline',
  { skip },
  async (t) => {
    await valid('after the campaigns');
    // Garbage from the campaigns is collected as the gateway goes on serving.
    for (let i = 0; i < 200; i++) await valid('settling');
    const rss = await residentBytes(gateway.pid);
    t.diagnostic(
      `gateway RSS ${(baselineRss / 2 ** 20).toFixed(0)} MiB before, ${(rss / 2 ** 20).toFixed(0)} MiB after`,
    );
    assert.ok(rss < baselineRss + MEMORY_SLACK_BYTES, `RSS grew from ${baselineRss} to ${rss}`);
  },
);
