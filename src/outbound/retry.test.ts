import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { gatewayError } from '../errors.js';
import { refuse } from '../pipeline/stage.js';
import type { Endpoint, Leased, Outcome } from '../runtime-pool/index.js';
import type { Attempt, AttemptRequest, AttemptResult } from './attempt.js';
import type { ExchangeResult } from './exchange.js';
import { createOutboundMetrics } from './metrics.js';
import { MAX_ATTEMPTS, withRetries, type RetryDeps } from './retry.js';
import type { CallContext } from './variant-call.js';

/** A pool of named fake endpoints whose lease records what it released, as the real pool's does. */
function fakePool(names: string[]) {
  const endpoints = names.map((url) => ({ url }) as Endpoint);
  const released: [string, Outcome][] = [];
  return {
    released,
    lease<T extends Leased>(exclude: ReadonlySet<Endpoint> | undefined, use: (e: Endpoint) => Promise<T>) {
      const endpoint = endpoints.find((e) => !exclude?.has(e));
      if (!endpoint) return undefined;
      return use(endpoint).then((result) => {
        released.push([endpoint.url, result.outcome]);
        return result;
      });
    },
  };
}

const failed = (status: number, timedOut = false): AttemptResult => ({
  final: false,
  outcome: 'error',
  result: { status, text: '', serverTiming: undefined, timedOut } satisfies ExchangeResult,
});
const answered: AttemptResult = {
  final: true,
  outcome: 'ok',
  reply: { ok: true, response: { model_name: 'fraud', outputs: [] }, variant: 'v1', version: '1' },
};

/** An attempt layer that answers from a script and records every request it was given. */
function scripted(results: AttemptResult[]) {
  const seen: { endpoint: string; request: AttemptRequest }[] = [];
  const attempt: Attempt = async (endpoint, request) => {
    seen.push({ endpoint: endpoint.url, request });
    return results[Math.min(seen.length - 1, results.length - 1)]!;
  };
  return { attempt, seen };
}

function setup(names: string[], options: { budget?: boolean; p90?: number; reserve?: number } = {}) {
  const pool = fakePool(names);
  const registry = new Registry();
  let deposits = 0;
  const deps: RetryDeps = {
    pools: new Map([['onnx', pool]]),
    latency: { p90Ms: () => options.p90 ?? 0 },
    retryBudget: () => ({ deposit: () => void deposits++, tryWithdraw: () => options.budget ?? true }),
    metrics: createOutboundMetrics(registry),
    defaultReserveMs: options.reserve ?? 0,
  };
  return { pool, deps, deposits: () => deposits };
}

const variant = { name: 'v1', upstream: 'onnx', model: 'fraud', version: '1' };
const ctx = (budgetMs = 1000): CallContext => ({
  inference: { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [1] }] },
  inferenceText: undefined,
  deadline: performance.now() + budgetMs,
  requestId: 'r',
  headers: {},
});

test('a failed attempt is tried again on an endpoint not tried yet; the answer ends the call', async () => {
  const { pool, deps, deposits } = setup(['a', 'b', 'c']);
  const { attempt, seen } = scripted([failed(500), answered]);
  const call = withRetries('fraud', attempt, deps);
  const context = ctx();
  const reply = await call(context, variant);
  assert.equal(reply.ok, true);
  assert.deepEqual(
    seen.map((s) => [s.endpoint, s.request.number]),
    [
      ['a', 1],
      ['b', 2],
    ],
  );
  assert.deepEqual(pool.released, [
    ['a', 'error'],
    ['b', 'ok'],
  ]);
  assert.equal(deposits(), 1, 'one deposit per call, not per attempt');
  // The request's JSON is written once, for every attempt, and kept for a fallback or shadow.
  assert.equal(context.inferenceText, JSON.stringify(context.inference));
  assert.equal(seen[1]!.request.body, context.inferenceText);
  assert.equal(seen[0]!.request.path, '/v2/models/fraud/versions/1/infer');
});

test(`at most ${MAX_ATTEMPTS} attempts; then the runtime's last answer is the failure`, async () => {
  const { deps } = setup(['a', 'b', 'c', 'd', 'e']);
  const { attempt, seen } = scripted([failed(502)]);
  const reply = await withRetries('fraud', attempt, deps)(ctx(), variant);
  assert.equal(seen.length, MAX_ATTEMPTS);
  assert.equal(!reply.ok && reply.error.code, 'SWY_ERR_UPSTREAM_FAILED');
  assert.match(!reply.ok ? reply.error.message : '', /runtime answered 502/);
});

test('a malformed answer is tried on another endpoint; when every one was malformed, the call says so', async () => {
  const malformed: AttemptResult = {
    final: false,
    outcome: 'error',
    result: { status: 200, text: '{}', serverTiming: undefined, timedOut: false },
    malformed: '"outputs" is not a non-empty array',
  };
  const recovered = scripted([malformed, answered]);
  const { deps } = setup(['a', 'b', 'c']);
  assert.equal((await withRetries('fraud', recovered.attempt, deps)(ctx(), variant)).ok, true);
  assert.deepEqual(
    recovered.seen.map((s) => s.endpoint),
    ['a', 'b'],
  );

  const { attempt, seen } = scripted([malformed]);
  const reply = await withRetries('fraud', attempt, deps)(ctx(), variant);
  assert.equal(seen.length, MAX_ATTEMPTS);
  assert.equal(!reply.ok && reply.error.code, 'SWY_ERR_UPSTREAM_MALFORMED_ANSWER');
  assert.match(!reply.ok ? reply.error.message : '', /variant v1: "outputs" is not a non-empty array/);
});

test('no retry when the budget refuses, when the time left is under the p90, or after a timeout', async () => {
  for (const [options, results] of [
    [{ budget: false }, [failed(500)]],
    [{ p90: 5000 }, [failed(500)]],
    [{}, [failed(0, true)]],
  ] as const) {
    const { deps } = setup(['a', 'b'], options);
    const { attempt, seen } = scripted([...results]);
    const reply = await withRetries('fraud', attempt, deps)(ctx(), variant);
    assert.equal(seen.length, 1, JSON.stringify(options));
    if (results[0]!.final === false && results[0]!.result.timedOut)
      assert.equal(!reply.ok && reply.error.code, 'SWY_ERR_BUDGET_EXHAUSTED');
  }
});

test('every endpoint tried: the call stops rather than trying one twice', async () => {
  const { deps } = setup(['a', 'b']);
  const { attempt, seen } = scripted([failed(500)]);
  await withRetries('fraud', attempt, deps)(ctx(), variant);
  assert.deepEqual(
    seen.map((s) => s.endpoint),
    ['a', 'b'],
  );
});

test('no endpoint, no time, no pool: each has its own refusal, and no attempt is made', async () => {
  const { attempt, seen } = scripted([answered]);
  const empty = setup([]);
  const none = await withRetries('fraud', attempt, empty.deps)(ctx(), variant);
  assert.equal(!none.ok && none.error.code, 'SWY_ERR_UPSTREAM_NO_ENDPOINT');
  const late = await withRetries('fraud', attempt, setup(['a']).deps)(ctx(-1), variant);
  assert.equal(!late.ok && late.error.code, 'SWY_ERR_BUDGET_EXHAUSTED');
  const unknown = await withRetries(
    'fraud',
    attempt,
    setup(['a']).deps,
  )(ctx(), { ...variant, upstream: 'x' });
  assert.equal(!unknown.ok && unknown.error.code, 'SWY_ERR_INTERNAL');
  assert.equal(seen.length, 0);
});

test("the runtime is given the time left less the fallback's reserve; a fallback call may spend it", async () => {
  const { deps } = setup(['a'], { reserve: 100 });
  const { attempt, seen } = scripted([answered]);
  const call = withRetries('fraud', attempt, deps);
  await call(ctx(1000), variant);
  await call(ctx(1000), variant, 0);
  const [first, fallback] = seen.map((s) => s.request.timeoutMs);
  assert.ok(first! <= 900 && first! > 850, `first call: ${first}`);
  assert.ok(fallback! <= 1000 && fallback! > 950, `fallback call: ${fallback}`);
});

test('a final refusal (the request is wrong) is not tried elsewhere', async () => {
  const { deps } = setup(['a', 'b']);
  const { attempt, seen } = scripted([
    { final: true, outcome: 'ok', reply: refuse(gatewayError('INPUT_INVALID')) },
  ]);
  const reply = await withRetries('fraud', attempt, deps)(ctx(), variant);
  assert.equal(!reply.ok && reply.error.code, 'SWY_ERR_INPUT_INVALID');
  assert.equal(seen.length, 1);
});
