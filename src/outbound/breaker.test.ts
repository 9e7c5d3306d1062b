import assert from 'node:assert/strict';
import { test } from 'node:test';
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
    const call = withBreaker(inner, (variant) => (variant === 'v1' ? current : undefined));
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
