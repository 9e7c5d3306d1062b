import assert from 'node:assert/strict';
import { test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { gatewayError } from '../errors.js';
import { refuse, type Reply } from '../pipeline/stage.js';
import { VariantBreaker, withBreaker } from './breaker.js';
import type { VariantCall } from './variant-call.js';

const failed = (): Promise<Reply> => Promise.resolve(refuse(gatewayError('UPSTREAM_FAILED')));
const answered = (): Promise<Reply> =>
  Promise.resolve({ ok: true, response: undefined, variant: 'v1', version: '1' });
/** opossum's rolling counts, which decide when the breaker opens again. */
const stats = (breaker: VariantBreaker) =>
  (breaker as unknown as { breaker: { stats: { fires: number; rejects: number; failures: number } } }).breaker
    .stats;

test('an open breaker refuses without calling, and counts each refusal as opossum itself would', async () => {
  const breaker = new VariantBreaker({
    error_threshold_percent: 50,
    volume_threshold: 4,
    reset_ms: 200,
    rolling_window_ms: 10_000,
  });
  try {
    for (let i = 0; i < 4; i++) await breaker.call(failed);
    assert.equal(breaker.state, 'open');
    const before = { ...stats(breaker) };
    let called = 0;
    for (let i = 0; i < 5; i++) {
      const reply = await breaker.call(() => {
        called++;
        return answered();
      });
      assert.equal(reply.ok, false);
      assert.equal(!reply.ok && reply.error.code, 'SWY_ERR_UPSTREAM_CIRCUIT_OPEN');
    }
    assert.equal(called, 0, 'no call goes through an open breaker');
    assert.equal(stats(breaker).fires - before.fires, 5);
    assert.equal(stats(breaker).rejects - before.rejects, 5);

    // After reset_ms one trial goes through; its success closes the breaker.
    await sleep(300);
    assert.equal(breaker.state, 'half_open');
    const trial = await breaker.call(() => {
      called++;
      return answered();
    });
    assert.equal(trial.ok, true);
    assert.equal(called, 1);
    assert.equal(breaker.state, 'closed');
  } finally {
    breaker.shutdown();
  }
});

test('withBreaker looks the breaker up per call: a replaced breaker applies at once, none means no guard', async () => {
  const config = {
    error_threshold_percent: 50,
    volume_threshold: 2,
    reset_ms: 60_000,
    rolling_window_ms: 10_000,
  };
  const open = new VariantBreaker(config);
  const fresh = new VariantBreaker(config);
  try {
    for (let i = 0; i < 2; i++) await open.call(failed);
    assert.equal(open.state, 'open');
    let current: VariantBreaker | undefined = open;
    let calls = 0;
    const inner: VariantCall = async () => {
      calls++;
      return answered();
    };
    const call = withBreaker(inner, (variant) => (variant === 'v1' ? current : undefined), {
      latency: { p90Ms: () => 0 },
      defaultReserveMs: 0,
    });
    const target = { name: 'v1', upstream: 'onnx', model: 'm', version: '1' };
    const ctx = { inference: undefined, inferenceText: undefined, deadline: 0, requestId: 'r', headers: {} };
    const refused = await call(ctx, target);
    assert.equal(!refused.ok && refused.error.code, 'SWY_ERR_UPSTREAM_CIRCUIT_OPEN');
    assert.equal(calls, 0, 'an open breaker keeps the call from the inner layer');
    current = fresh; // a reload replaced the breaker
    assert.equal((await call(ctx, target)).ok, true);
    assert.equal((await call(ctx, { ...target, name: 'shadow' })).ok, true, 'no breaker: called as is');
    assert.equal(calls, 2);
  } finally {
    open.shutdown();
    fresh.shutdown();
  }
});

test("only a variant's failures count: a malformed answer does, the request's refusals and a throw do not", async () => {
  const config = {
    error_threshold_percent: 50,
    volume_threshold: 4,
    reset_ms: 60_000,
    rolling_window_ms: 10_000,
  };
  const callerCaused = new VariantBreaker(config);
  const malformed = new VariantBreaker(config);
  try {
    for (const name of ['INPUT_INVALID', 'UPSTREAM_REFUSED'] as const) {
      for (let i = 0; i < 4; i++) await callerCaused.call(() => Promise.resolve(refuse(gatewayError(name))));
    }
    for (let i = 0; i < 4; i++) {
      const reply = await callerCaused.call(() => Promise.reject(new Error('a bug, not the variant')));
      assert.equal(!reply.ok && reply.error.code, 'SWY_ERR_INTERNAL');
    }
    assert.equal(callerCaused.state, 'closed');
    assert.equal(stats(callerCaused).failures, 0);

    for (let i = 0; i < 4; i++)
      await malformed.call(() => Promise.resolve(refuse(gatewayError('UPSTREAM_MALFORMED_ANSWER'))));
    assert.equal(malformed.state, 'open');
  } finally {
    callerCaused.shutdown();
    malformed.shutdown();
  }
});

test("running out of time counts against the variant only when the call had the model's usual time", async () => {
  const config = {
    error_threshold_percent: 50,
    volume_threshold: 4,
    reset_ms: 60_000,
    rolling_window_ms: 10_000,
  };
  const breaker = new VariantBreaker(config);
  try {
    const exhausted: VariantCall = () => Promise.resolve(refuse(gatewayError('BUDGET_EXHAUSTED')));
    // The model usually answers within 20 ms; 5 ms of it are kept for a fallback.
    const call = withBreaker(exhausted, () => breaker, { latency: { p90Ms: () => 20 }, defaultReserveMs: 5 });
    const target = { name: 'v1', upstream: 'onnx', model: 'm', version: '1' };
    const ctx = (budgetMs: number) => ({
      inference: undefined,
      inferenceText: undefined,
      deadline: performance.now() + budgetMs,
      requestId: 'r',
      headers: {},
    });
    // A caller allowing 2 ms, or 10 ms: short of what the model needs, its own doing.
    for (const budgetMs of [2, 10, 2, 10, 2, 10]) await call(ctx(budgetMs), target);
    assert.equal(breaker.state, 'closed');
    assert.equal(stats(breaker).failures, 0);
    for (let i = 0; i < 8; i++) await call(ctx(250), target); // 8 of 14 calls: over 50%
    assert.equal(breaker.state, 'open', 'with the time it needs, running out is the variant failing');
  } finally {
    breaker.shutdown();
  }
});
