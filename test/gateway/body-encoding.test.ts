import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  CODINGS,
  corruptGzip,
  gzipBomb,
  peakResidentBytes,
  postBytes,
  residentBytes,
} from '../harness/coded-bodies.js';
import { sendExpectingContinue } from '../harness/expect-continue.js';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, wireError } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorCode } from '../../src/errors.js';

// Issue 19: compressed request bodies (Content-Encoding gzip or deflate) on every model route,
// the body limit held against the decoded size (a compression bomb gets 413 with bounded
// memory), 415 for a coding the gateway does not decode, 400 for a stream that does not decode.
const client = createClient();
let runtime: StartedProcess;
let gateway: GatewayUnderTest;
const rows = fraudRows(2, 11);
const USER = { ...AUTH, 'x-user-id': 'coded-user' };

/** Each model route with a body it takes and the part of the answer that does not change per request. */
const ROUTES = [
  {
    path: '/v2/models/fraud/infer',
    body: JSON.stringify({
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 8], data: rows.flat() }],
    }),
    essence: (answer: Record<string, unknown>) => answer.outputs,
  },
  {
    path: '/v1/models/fraud:predict',
    body: JSON.stringify({ instances: rows }),
    essence: (answer: Record<string, unknown>) => answer.predictions,
  },
  {
    path: '/v1/decisions/fraud',
    body: JSON.stringify(decisionBody(rows[0]!, 'coded-user')),
    essence: (answer: Record<string, unknown>) => [answer.decision, answer.score, answer.variant],
  },
];

before(async () => {
  runtime = await startRuntime();
  gateway = await startGateway(fraudGatewayConfig([runtime.url]));
  await upstreamHealthy(client, gateway.url);
});
after(async () => {
  await client.close();
  assert.equal(await gateway.stop(), 0);
  assert.equal(await runtime.stop(), 0);
});

const json = (bytes: Buffer) => JSON.parse(bytes.toString()) as Record<string, unknown>;
// Either of the gateway's error shapes: the protocol's on the OIP and KServe routes, its own on decisions.
const codeOf = (bytes: Buffer) => wireError(bytes.toString())?.code as ErrorCode | undefined;

test('gzip and deflate bodies get the answer the plain body gets, on every model route and both front doors', async () => {
  for (const route of ROUTES) {
    const plain = await postBytes(client, `${gateway.url}${route.path}`, Buffer.from(route.body), USER);
    assert.equal(plain.status, 200, plain.bytes.toString());
    const expected = route.essence(json(plain.bytes));
    assert.ok(expected !== undefined);
    // The query string sends the request to Fastify's route instead of the fast path.
    for (const url of [`${gateway.url}${route.path}`, `${gateway.url}${route.path}?via=fastify`]) {
      for (const coding of CODINGS) {
        const coded = await postBytes(client, url, coding.encode(route.body), {
          ...USER,
          'content-encoding': coding.header,
        });
        assert.equal(coded.status, 200, `${url} ${coding.header}: ${coded.bytes.toString()}`);
        assert.deepEqual(route.essence(json(coded.bytes)), expected, `${url} ${coding.header}`);
      }
    }
  }
});

test('a coding the gateway does not decode gets 415, before the body is read and without 100 Continue', async () => {
  const body = Buffer.from(ROUTES[0]!.body);
  for (const url of [
    `${gateway.url}/v2/models/fraud/infer`,
    `${gateway.url}/v2/models/fraud/infer?via=fastify`,
  ]) {
    for (const coding of ['br', 'compress', 'gzip, gzip']) {
      const response = await postBytes(client, url, body, { ...USER, 'content-encoding': coding });
      assert.equal(response.status, 415, `${url} ${coding}`);
      assert.equal(codeOf(response.bytes), 'SWY_ERR_HTTP_UNSUPPORTED_ENCODING');
    }
  }
  const exchange = await sendExpectingContinue(
    gateway.url,
    '/v2/models/fraud/infer',
    { ...USER, 'content-type': 'application/json', 'content-encoding': 'br' },
    body,
  );
  assert.equal(exchange.continued, false);
  assert.equal(exchange.bodyBytesSent, 0);
  assert.equal(exchange.final?.status, 415);
});

test('a gzip body that does not decode (corrupt, truncated) gets 400', async () => {
  const text = ROUTES[0]!.body;
  const whole = corruptGzip(text);
  const truncated = CODINGS[0]!.encode(text).subarray(0, 40);
  for (const url of [
    `${gateway.url}/v2/models/fraud/infer`,
    `${gateway.url}/v2/models/fraud/infer?via=fastify`,
  ]) {
    for (const body of [whole, truncated]) {
      const response = await postBytes(client, url, body, { ...USER, 'content-encoding': 'gzip' });
      assert.equal(response.status, 400, `${url}: ${response.bytes.toString()}`);
      assert.equal(codeOf(response.bytes), 'SWY_ERR_HTTP_MALFORMED_ENCODING');
    }
  }
  // The gateway goes on serving on new connections.
  const after = await postBytes(client, `${gateway.url}/v2/models/fraud/infer`, Buffer.from(text), USER);
  assert.equal(after.status, 200);
});

test('a compression bomb (1 GiB of zeros in about 1 MB of gzip) gets 413 with the memory of the limit, not of the bomb', async (t) => {
  const bomb = gzipBomb(1024);
  assert.ok(bomb.length < 2_000_000, `${bomb.length} bytes on the wire`);
  for (const path of ['/v2/models/fraud/infer', '/v2/models/fraud/infer?via=fastify']) {
    const before = await residentBytes(gateway.pid);
    const started = performance.now();
    const response = await postBytes(client, `${gateway.url}${path}`, bomb, {
      ...USER,
      'content-encoding': 'gzip',
    });
    const tookMs = performance.now() - started;
    assert.equal(response.status, 413, `${path}: ${response.bytes.toString()}`);
    assert.equal(codeOf(response.bytes), 'SWY_ERR_HTTP_BODY_TOO_LARGE');
    // Loose: the default limit is 32 MiB of decoded body; inflating the whole gigabyte would take it.
    const peak = await peakResidentBytes(gateway.pid);
    assert.ok(peak - before < 256 * 1024 * 1024, `${path}: grew from ${before} to a peak of ${peak} bytes`);
    t.diagnostic(`${path}: 413 after ${tookMs.toFixed(0)} ms, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
  }
});

test('Expect: 100-continue with a coded body within the limit gets 100, then its answer', async () => {
  const body = CODINGS[0]!.encode(ROUTES[0]!.body);
  const exchange = await sendExpectingContinue(
    gateway.url,
    '/v2/models/fraud/infer',
    { ...USER, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body,
  );
  assert.equal(exchange.continued, true);
  assert.equal(exchange.final?.status, 200, exchange.final?.body);
});

test('Accept-Encoding: gzip gets a large answer gzipped (Vary: Accept-Encoding); small answers and q=0 go as they are', async () => {
  const many = fraudRows(64, 3);
  const large = Buffer.from(
    JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [64, 8], data: many.flat() }] }),
  );
  const decision = Buffer.from(ROUTES[2]!.body);
  for (const via of ['', '?via=fastify']) {
    const url = `${gateway.url}/v2/models/fraud/infer${via}`;
    const plain = await postBytes(client, url, large, USER);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.vary, 'Accept-Encoding', 'a large answer varies with Accept-Encoding');
    assert.ok(plain.bytes.length >= 1024, `${plain.bytes.length} bytes`);
    const gzipped = await postBytes(client, url, large, { ...USER, 'accept-encoding': 'br;q=1, gzip;q=0.8' });
    assert.equal(gzipped.status, 200);
    assert.equal(gzipped.headers['content-encoding'], 'gzip', url);
    assert.equal(gzipped.headers.vary, 'Accept-Encoding');
    assert.equal(Number(gzipped.headers['content-length']), gzipped.bytes.length);
    assert.ok(
      gzipped.bytes.length < plain.bytes.length / 1.5,
      `${gzipped.bytes.length} of ${plain.bytes.length}`,
    );
    assert.deepEqual(json(gunzipSync(gzipped.bytes)).outputs, json(plain.bytes).outputs);
    const refused = await postBytes(client, url, large, { ...USER, 'accept-encoding': 'gzip;q=0, identity' });
    assert.equal(refused.headers['content-encoding'], undefined);
    assert.deepEqual(json(refused.bytes).outputs, json(plain.bytes).outputs);
    const small = await postBytes(client, `${gateway.url}/v1/decisions/fraud${via}`, decision, {
      ...USER,
      'accept-encoding': 'gzip',
    });
    assert.equal(small.status, 200);
    assert.equal(small.headers['content-encoding'], undefined, 'the decision is too small to compress');
    assert.equal(small.headers.vary, undefined);
    assert.ok(json(small.bytes).decision);
  }
});
