import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gatewayError } from '../errors.js';
import { refuse, type Reply } from '../pipeline/stage.js';
import { VariantBreaker } from './breaker.js';

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
