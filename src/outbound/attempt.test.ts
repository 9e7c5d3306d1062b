import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { EndpointState } from '../runtime-pool/endpoint.js';
import { createAttempt, type AttemptRequest } from './attempt.js';
import { LatencyWindow } from './latency.js';
import { createOutboundMetrics } from './metrics.js';

/** What the runtime stand-in answers next, and the headers of the request it got. */
let next = { status: 200, body: '', headers: {} as Record<string, string> };
let received: IncomingHttpHeaders = {};
const server = createServer((request, response) => {
  received = request.headers;
  request.resume();
  request.on('end', () => response.writeHead(next.status, next.headers).end(next.body));
});
let endpoint: EndpointState;

before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  endpoint = new EndpointState(`http://127.0.0.1:${port}`, { connections: 2, connectTimeoutMs: 1000 });
});
after(async () => {
  await endpoint.destroy();
  server.closeAllConnections();
  server.close();
});

const ANSWER = JSON.stringify({
  outputs: [{ name: 'score', datatype: 'FP32', shape: [1, 1], data: [0.25] }],
});

function request(overrides: Partial<AttemptRequest> = {}): AttemptRequest {
  return {
    ctx: {
      inference: undefined,
      inferenceText: undefined,
      deadline: Number.MAX_SAFE_INTEGER,
      requestId: 'req-1',
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    },
    variant: { name: 'v1', upstream: 'onnx', model: 'fraud', version: '3' },
    path: '/v2/models/fraud/versions/3/infer',
    body: '{"inputs":[]}',
    timeoutMs: 1000,
    number: 1,
    ...overrides,
  };
}

function setup() {
  const registry = new Registry();
  const metrics = createOutboundMetrics(registry);
  const latency = new LatencyWindow(16, 0);
  const attempt = createAttempt('fraud', { metrics, latency });
  const attempts = async (outcome: string) =>
    (await registry.getSingleMetric('switchyard_upstream_attempts_total')!.get()).values.find(
      (v) => v.labels.outcome === outcome,
    )?.value ?? 0;
  return { attempt, latency, attempts };
}

test('a 200 inference response is a final answer with the runtime timing, and feeds the latency window', async () => {
  const { attempt, latency, attempts } = setup();
  next = { status: 200, body: ANSWER, headers: { 'server-timing': 'infer;dur=1.5' } };
  const result = await attempt(endpoint, request());
  assert.equal(result.final, true);
  assert.equal(result.outcome, 'ok');
  assert.ok(result.final && result.reply.ok);
  assert.equal(result.reply.ok && result.reply.variant, 'v1');
  assert.equal(result.reply.ok && result.reply.version, '3');
  assert.equal(result.reply.ok && result.reply.runtimeTiming, 'infer;dur=1.5');
  assert.ok(latency.median() > 0, 'the answered attempt is a latency sample');
  assert.equal(await attempts('ok'), 1);
  // Without tracing, the caller's trace context passes through; the deadline goes as a header.
  assert.equal(received.traceparent, request().ctx.headers.traceparent);
  assert.equal(received['x-request-timeout-ms'], '1000');
  assert.equal(received['x-request-id'], 'req-1');
});

test('a 400 is final: the request is wrong, not the endpoint, and the runtime says why', async () => {
  const { attempt, attempts } = setup();
  next = { status: 400, body: '{"error":"input x has the wrong shape"}', headers: {} };
  const result = await attempt(endpoint, request());
  assert.equal(result.final, true);
  assert.equal(result.outcome, 'ok');
  assert.ok(result.final && !result.reply.ok);
  assert.equal(!result.reply.ok && result.reply.error.code, 'SWY_ERR_INPUT_INVALID');
  assert.match(!result.reply.ok ? result.reply.error.message : '', /wrong shape/);
  assert.equal(await attempts('client_error'), 1);
});

test('a 200 that is no inference response is not an answer: the endpoint failed, another may answer', async () => {
  const { attempt, latency, attempts } = setup();
  next = { status: 200, body: '{"outputs": "nope"}', headers: {} };
  const result = await attempt(endpoint, request());
  assert.deepEqual([result.final, result.outcome], [false, 'error']);
  assert.match((!result.final && result.malformed) || '', /"outputs" is not a non-empty array/);
  assert.equal(await attempts('malformed'), 1);
  assert.equal(latency.median(), 0, 'a malformed answer is no latency sample');
});

test("a 200 that does not fit the model's metadata or contract is malformed", async () => {
  const registry = new Registry();
  const attempt = createAttempt('fraud', {
    metrics: createOutboundMetrics(registry),
    latency: new LatencyWindow(16, 0),
    answerSpec: () => ({
      metadata: {
        name: 'fraud',
        versions: ['3'],
        platform: 'onnxruntime',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }],
        outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
      },
      contract: {
        input: 'features',
        output: 'score',
        features: [{ name: 'x' }],
        decisions: { below: 'approve', thresholds: [{ at: 0.5, decision: 'review' }] },
      },
    }),
  });
  next = { status: 200, body: ANSWER.replace('0.25', '7.5'), headers: {} };
  const result = await attempt(endpoint, request());
  assert.deepEqual([result.final, result.outcome], [false, 'error']);
  assert.match((!result.final && result.malformed) || '', /score 7\.5 at data\[0\] is outside \[0, 1\]/);
});

test("a runtime's 4xx is the request's: final, not the endpoint's fault; 404, 408 and 429 may go elsewhere", async () => {
  const { attempt, attempts } = setup();
  for (const [status, code] of [
    [422, 'SWY_ERR_INPUT_INVALID'],
    [413, 'SWY_ERR_INPUT_INVALID'],
    [403, 'SWY_ERR_UPSTREAM_REFUSED'],
    [415, 'SWY_ERR_UPSTREAM_REFUSED'],
  ] as const) {
    next = { status, body: '{"error":"no"}', headers: {} };
    const result = await attempt(endpoint, request());
    assert.deepEqual([result.final, result.outcome], [true, 'ok'], `status ${status}`);
    assert.equal(result.final && !result.reply.ok && result.reply.error.code, code, `status ${status}`);
  }
  assert.equal(await attempts('client_error'), 4);
  for (const status of [404, 408, 429]) {
    next = { status, body: '', headers: {} };
    const result = await attempt(endpoint, request());
    assert.deepEqual([result.final, result.outcome], [false, 'ok'], `status ${status}`);
  }
});

test('a 500 counts against the endpoint and may be tried elsewhere; a 503 or 404 does not count against it', async () => {
  const { attempt, attempts } = setup();
  next = { status: 500, body: '{"error":"boom"}', headers: {} };
  const failed = await attempt(endpoint, request());
  assert.deepEqual([failed.final, failed.outcome], [false, 'error']);
  for (const status of [503, 404]) {
    next = { status, body: '', headers: {} };
    const passed = await attempt(endpoint, request());
    assert.deepEqual([passed.final, passed.outcome], [false, 'ok'], `status ${status}`);
  }
  assert.equal(await attempts('retryable'), 3);
});

test('no answer within the time given: not final, timed out, counted as a timeout', async () => {
  const { attempt, attempts, latency } = setup();
  const slow = createServer(() => {}); // never answers
  slow.listen(0, '127.0.0.1');
  await once(slow, 'listening');
  const { port } = slow.address() as AddressInfo;
  const hung = new EndpointState(`http://127.0.0.1:${port}`, { connections: 1, connectTimeoutMs: 1000 });
  try {
    const result = await attempt(hung, request({ timeoutMs: 50 }));
    assert.equal(result.final, false);
    assert.equal(!result.final && result.result.timedOut, true);
    assert.equal(result.outcome, 'error');
    assert.equal(await attempts('timeout'), 1);

    // Given less than the model's recent p90 (here 100 ms), the attempt was expected to run out:
    // the caller's short deadline, not the endpoint's fault.
    latency.record(100);
    const short = await attempt(hung, request({ timeoutMs: 50 }));
    assert.deepEqual([short.final, short.outcome], [false, 'ok']);
  } finally {
    await hung.destroy();
    slow.closeAllConnections();
    slow.close();
  }
});
