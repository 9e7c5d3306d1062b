import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { REDIS_NOT_FOUND, startRedis } from '../../test/harness/redis.js';
import { createState, createStateMetrics } from './index.js';

test('without redis_url the limiter lives in the process', async () => {
  const metrics = createStateMetrics(new Registry());
  const state = createState({ redis_url: '' }, { metrics });
  assert.equal(state.redis, undefined);
  assert.equal((await state.limiter.take('tenant:checkout', 1, 1)).outcome, 'ok');
  assert.equal((await state.limiter.take('tenant:checkout', 1, 1)).outcome, 'over_limit');
  await state.close();
});

test('with redis_url the limiter and the client share one Redis', { timeout: 20_000 }, async (t) => {
  let server;
  try {
    server = await startRedis();
  } catch (error) {
    if (error instanceof Error && error.message === REDIS_NOT_FOUND) return t.skip(error.message);
    throw error;
  }
  try {
    const metrics = createStateMetrics(new Registry());
    const state = createState({ redis_url: server.url, failure_mode: 'closed' }, { metrics });
    try {
      assert.ok(state.redis);
      await once(state.redis, 'ready', { signal: AbortSignal.timeout(5000) });
      assert.equal((await state.limiter.take('tenant:checkout', 1, 1)).outcome, 'ok');
      assert.equal((await state.limiter.take('tenant:checkout', 1, 1)).outcome, 'over_limit');
      assert.equal(await state.redis.exists('switchyard:rl:tenant:checkout'), 1);
    } finally {
      await state.close();
    }
    assert.equal(state.redis.status, 'end');
  } finally {
    await server.stop();
  }
});
