import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gatewayError } from '../errors.js';
import { refuse, type Reply } from '../pipeline/stage.js';
import { logBreakerChanges } from './breaker-log.js';
import { VariantBreaker } from './breaker.js';

const CONFIG = { error_threshold_percent: 50, volume_threshold: 4, reset_ms: 100, rolling_window_ms: 10_000 };

function recorder() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: object, msg: string) =>
    lines.push({ level, msg, fields: fields as Record<string, unknown> });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

const failed = (): Promise<Reply> => Promise.resolve(refuse(gatewayError('UPSTREAM_NO_ENDPOINT')));
const answered = (): Promise<Reply> =>
  Promise.resolve({ ok: true, response: undefined, variant: 'v1', version: '1' });

test('a breaker logs opening, its first trial, and closing once each; refused calls only count', async () => {
  const { lines, logger } = recorder();
  const breaker = new VariantBreaker(CONFIG, { owner: { model: 'fraud', variant: 'v1' }, logger });
  try {
    for (let i = 0; i < 4; i++) await breaker.call(failed);
    for (let i = 0; i < 50; i++) await breaker.call(answered); // refused at once
    assert.deepEqual(
      lines.map((l) => [l.level, l.fields.state, l.fields.reason]),
      [['error', 'open', 'error_threshold']],
    );
    assert.deepEqual(
      [lines[0]!.fields.model, lines[0]!.fields.variant, lines[0]!.fields.failures, lines[0]!.fields.calls],
      ['fraud', 'v1', 4, 4],
    );
    assert.equal(lines[0]!.fields.last_failure, 'SWY_ERR_UPSTREAM_NO_ENDPOINT');

    // Two failed trials: the first is logged with its half-open, the second only counted.
    for (let trial = 0; trial < 2; trial++) {
      await sleep(CONFIG.reset_ms + 30);
      assert.equal(breaker.state, 'half_open');
      await breaker.call(failed);
      assert.equal(breaker.state, 'open');
    }
    await sleep(CONFIG.reset_ms + 30);
    await breaker.call(answered);
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(
      lines.map((l) => [l.level, l.fields.state, l.fields.reason]),
      [
        ['error', 'open', 'error_threshold'],
        ['warn', 'half_open', 'reset_elapsed'],
        ['error', 'open', 'trial_failed'],
        ['info', 'closed', 'trial_succeeded'],
      ],
    );
    const closed = lines.at(-1)!.fields;
    assert.equal(closed.refused, 50);
    assert.equal(closed.trials_failed, 2);
    assert.ok(Number(closed.open_ms) >= 3 * CONFIG.reset_ms, String(closed.open_ms));

    // A second outage starts its own count (the window still holds the first one's calls).
    for (let i = 0; i < 200 && breaker.state === 'closed'; i++) await breaker.call(failed);
    await breaker.call(answered);
    await sleep(CONFIG.reset_ms + 30);
    await breaker.call(answered);
    assert.deepEqual(
      lines.slice(4).map((l) => [l.fields.state, l.fields.reason, l.fields.refused ?? null]),
      [
        ['open', 'error_threshold', null],
        ['half_open', 'reset_elapsed', null],
        ['closed', 'trial_succeeded', 1],
      ],
    );
  } finally {
    breaker.shutdown();
  }
});

test('a breaker that stays open through many trials says so at most once per interval', () => {
  const { lines, logger } = recorder();
  const events = new EventEmitter();
  let now = 0;
  let refused = 0;
  logBreakerChanges(
    events,
    { ...CONFIG, reset_ms: 1000 },
    { model: 'fraud', variant: 'v2' },
    {
      window: () => ({ fires: 20, failures: 12 }),
      lastFailure: () => 'SWY_ERR_UPSTREAM_FAILED',
      refusedSinceOpen: () => refused,
    },
    logger,
    { now: () => now, intervalMs: 10_000 },
  );
  events.emit('open');
  // 60 s down: a trial every second, all failing, 100 calls refused a second.
  for (let s = 1; s <= 60; s++) {
    now = s * 1000;
    refused += 100;
    events.emit('halfOpen');
    events.emit('open');
  }
  now = 61_000;
  events.emit('halfOpen');
  events.emit('close');
  const reasons = lines.map((l) => l.fields.reason);
  assert.deepEqual(reasons.slice(0, 3), ['error_threshold', 'reset_elapsed', 'trial_failed']);
  const still = lines.filter((l) => l.fields.reason === 'still_open');
  // The first trial failed at 1 s; then one line per 10 s: at 11, 21, 31, 41, 51 s.
  assert.deepEqual(
    still.map((l) => l.fields.open_ms),
    [11_000, 21_000, 31_000, 41_000, 51_000],
  );
  assert.equal(still[0]!.fields.trials_failed, 11);
  assert.equal(lines.length, 3 + still.length + 1);
  assert.deepEqual(lines.at(-1)!.fields, {
    model: 'fraud',
    variant: 'v2',
    state: 'closed',
    reason: 'trial_succeeded',
    open_ms: 61_000,
    refused: 6000,
    trials_failed: 60,
  });
});
