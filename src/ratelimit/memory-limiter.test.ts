import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createMemoryLimiter } from './memory-limiter.js';
import { createStateMetrics } from './metrics.js';

function fakeClock(start = 1_000) {
  let nowMs = start;
  return {
    now: () => nowMs,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

test('a new bucket starts full: burst requests pass, the next is refused', async () => {
  const clock = fakeClock();
  const limiter = createMemoryLimiter({ now: clock.now });
  for (let i = 0; i < 5; i++) {
    const decision = await limiter.take('tenant:checkout', 10, 5);
    assert.equal(decision.allowed, true, `request ${i}`);
    assert.equal(decision.outcome, 'ok');
    assert.equal(decision.remaining, 4 - i);
    assert.equal(decision.limit, 5);
    assert.equal(decision.retryAfterMs, 0);
  }
  const refused = await limiter.take('tenant:checkout', 10, 5);
  assert.equal(refused.allowed, false);
  assert.equal(refused.outcome, 'over_limit');
  assert.equal(refused.remaining, 0);
});

test('refills at rps: one token per 1/rps seconds, never above burst', () => {
  const clock = fakeClock();
  const limiter = createMemoryLimiter({ now: clock.now });
  for (let i = 0; i < 5; i++) limiter.decide('k', 10, 5);
  assert.equal(limiter.decide('k', 10, 5).allowed, false);

  clock.advance(99);
  assert.equal(limiter.decide('k', 10, 5).allowed, false, '0.99 of a token is not a token');
  clock.advance(1);
  assert.equal(limiter.decide('k', 10, 5).allowed, true, 'the 100th ms completes the token');
  assert.equal(limiter.decide('k', 10, 5).allowed, false);

  // Over 1 s at 10 rps, exactly 10 more are admitted when taken one per 100 ms.
  let admitted = 0;
  for (let i = 0; i < 10; i++) {
    clock.advance(100);
    if (limiter.decide('k', 10, 5).allowed) admitted++;
  }
  assert.equal(admitted, 10);

  // A long idle period fills the bucket to burst, not beyond.
  clock.advance(60_000);
  let burst = 0;
  while (limiter.decide('k', 10, 5).allowed) burst++;
  assert.equal(burst, 5);
});

test('fractional rps: 0.5 rps admits one request every 2 s', () => {
  const clock = fakeClock();
  const limiter = createMemoryLimiter({ now: clock.now });
  assert.equal(limiter.decide('slow', 0.5, 1).allowed, true);
  const refused = limiter.decide('slow', 0.5, 1);
  assert.equal(refused.allowed, false);
  assert.equal(refused.retryAfterMs, 2000);
  clock.advance(1999);
  assert.equal(limiter.decide('slow', 0.5, 1).allowed, false);
  clock.advance(1);
  assert.equal(limiter.decide('slow', 0.5, 1).allowed, true);

  // 0.1 rps checked every second for 10 s adds up to 0.9999999999999999 tokens in floating
  // point; the tenth second must still yield the token.
  assert.equal(limiter.decide('slower', 0.1, 1).allowed, true);
  for (let i = 0; i < 9; i++) {
    clock.advance(1000);
    assert.equal(limiter.decide('slower', 0.1, 1).allowed, false, `second ${i + 1}`);
  }
  clock.advance(1000);
  assert.equal(limiter.decide('slower', 0.1, 1).allowed, true);
});

test('remaining, resetMs and retryAfterMs describe the bucket after the request', () => {
  const clock = fakeClock();
  const limiter = createMemoryLimiter({ now: clock.now });
  const first = limiter.decide('k', 4, 3); // 250 ms per token
  assert.deepEqual(first, {
    allowed: true,
    limit: 3,
    remaining: 2,
    resetMs: 250,
    retryAfterMs: 0,
    outcome: 'ok',
  });
  limiter.decide('k', 4, 3);
  const last = limiter.decide('k', 4, 3);
  assert.equal(last.remaining, 0);
  assert.equal(last.resetMs, 750);

  clock.advance(100); // 0.4 token back
  const refused = limiter.decide('k', 4, 3);
  assert.deepEqual(refused, {
    allowed: false,
    limit: 3,
    remaining: 0,
    resetMs: 650,
    retryAfterMs: 150,
    outcome: 'over_limit',
  });
  clock.advance(150);
  assert.equal(limiter.decide('k', 4, 3).allowed, true, 'retryAfterMs was enough');
});

test('keys are independent buckets', () => {
  const clock = fakeClock();
  const limiter = createMemoryLimiter({ now: clock.now });
  for (let i = 0; i < 3; i++) limiter.decide('tenant:checkout', 1, 3);
  assert.equal(limiter.decide('tenant:checkout', 1, 3).allowed, false);
  assert.equal(limiter.decide('tenant:checkout:model:fraud', 1, 3).allowed, true);
  assert.equal(limiter.decide('tenant:payments', 1, 3).remaining, 2);
});

test('a lower burst caps what is already in the bucket (config reload)', () => {
  const clock = fakeClock();
  const limiter = createMemoryLimiter({ now: clock.now });
  limiter.decide('k', 10, 100);
  let admitted = 0;
  while (limiter.decide('k', 10, 5).allowed) admitted++;
  assert.equal(admitted, 5);
});

test('full idle buckets are swept; memory stays bounded under many keys', () => {
  const clock = fakeClock();
  const limiter = createMemoryLimiter({ now: clock.now, sweepIntervalMs: 1000, maxBuckets: 1000 });
  for (let i = 0; i < 500; i++) limiter.decide(`idle:${i}`, 100, 10);
  assert.equal(limiter.size(), 500);
  // 10 tokens at 100 rps refill in 10 ms; after the sweep interval they are full and idle.
  clock.advance(1000);
  limiter.decide('busy', 100, 10);
  assert.equal(limiter.size(), 1, 'only the bucket just used is left');

  // A flood of keys that are all in use: the cap holds, without a sweep per call.
  for (let i = 0; i < 10_000; i++) limiter.decide(`flood:${i}`, 0.001, 10);
  assert.ok(limiter.size() <= 1000, `size ${limiter.size()}`);
  assert.ok(limiter.size() >= 900, `size ${limiter.size()}`);
});

test('the sweep keeps buckets that are not yet full, so it never hands out free tokens', () => {
  const clock = fakeClock();
  const limiter = createMemoryLimiter({ now: clock.now, sweepIntervalMs: 10 });
  limiter.decide('k', 1, 2);
  limiter.decide('k', 1, 2);
  clock.advance(500);
  limiter.decide('other', 1, 2); // sweep runs: 'k' is half full, kept
  assert.equal(limiter.size(), 2);
  assert.equal(limiter.decide('k', 1, 2).allowed, false, 'still half a token short');
});

test('invalid limits are refused, not turned into "unlimited"', async () => {
  const limiter = createMemoryLimiter();
  assert.throws(() => limiter.decide('k', 0, 5), RangeError);
  assert.throws(() => limiter.decide('k', 1, 0.5), RangeError);
  assert.throws(() => limiter.decide('k', Number.NaN, 5), RangeError);
  await assert.rejects(limiter.take('k', -1, 5), RangeError);
});

test('every decision is counted by outcome', async () => {
  const registry = new Registry();
  const metrics = createStateMetrics(registry);
  const clock = fakeClock();
  const limiter = createMemoryLimiter({ now: clock.now, metrics });
  for (let i = 0; i < 5; i++) await limiter.take('k', 1, 3);
  const values = (await metrics.rateLimitDecisions.get()).values;
  const count = (outcome: string) => values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  assert.equal(count('ok'), 3);
  assert.equal(count('over_limit'), 2);
  assert.equal(count('fail_open'), 0);
});
