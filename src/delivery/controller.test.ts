import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { Finished } from '../pipeline/stage.js';
import { silentLogger } from '../shared/logger.js';
import type { RolloutPolicy } from './config.js';
import { RolloutController } from './controller.js';
import { createDeliveryMetrics } from './metrics.js';

function policy(overrides: Partial<RolloutPolicy> = {}): RolloutPolicy {
  return {
    candidate: 'v2',
    baseline: 'v1',
    steps: [10, 50, 100],
    interval_s: 60,
    min_samples: 50,
    failure_limit: 2,
    pause_before: [],
    mirror_percent: 100,
    criteria: { error_rate: { max_increase: 0.05 } },
    ...overrides,
  } as RolloutPolicy;
}

function controller(p: RolloutPolicy) {
  const registry = new Registry();
  const rollout = new RolloutController('fraud', p, undefined, {
    logger: silentLogger,
    metrics: createDeliveryMetrics(registry),
  });
  return { rollout, registry };
}

/** `count` answers for `variant`, `failed` of them 5xx refusals. */
function answers(rollout: RolloutController, variant: string, count: number, failed = 0): void {
  for (let i = 0; i < count; i++) {
    const error = i < failed;
    rollout.evidence.recordAnswer({
      ctx: { variant: { name: variant }, receivedAt: 0, inference: undefined },
      reply: error ? { ok: false, error: { status: 502 } } : { ok: true, response: { outputs: [] } },
      response: { status: error ? 502 : 200, body: {} },
      finishedAt: 5,
    } as unknown as Finished);
  }
}

const kinds = (rollout: RolloutController) =>
  (rollout.status() as { events: { event: string }[] }).events.map((e) => e.event);

test('passing steps advance one by one, each on fresh evidence; reaching 100% completes', () => {
  const { rollout } = controller(policy());
  assert.equal(rollout.share(), 0.1);
  answers(rollout, 'v1', 200);
  answers(rollout, 'v2', 200);
  rollout.tick();
  assert.equal(rollout.step, 50);
  assert.equal(rollout.share(), 0.5);
  assert.equal(rollout.evidence.snapshot().candidate.requests, 0, 'a new step starts with no evidence');
  rollout.tick(); // nothing seen yet at 50: inconclusive, holds
  assert.equal(rollout.step, 50);
  assert.equal(rollout.state.lastJudgement?.verdict, 'inconclusive');
  answers(rollout, 'v1', 200);
  answers(rollout, 'v2', 200);
  rollout.tick();
  assert.equal(rollout.state.status, 'completed');
  assert.equal(rollout.share(), 1);
  assert.equal(rollout.mirrorPercent(), 0, 'nothing left to mirror once completed');
  assert.deepEqual(kinds(rollout), ['advanced', 'held', 'advanced', 'completed']);
  rollout.tick();
  assert.equal(kinds(rollout).length, 4, 'a completed rollout judges no more');
});

test('failure_limit failed judgements in a row roll back; a pass between them resets the count', () => {
  const { rollout, registry } = controller(policy());
  answers(rollout, 'v1', 200);
  answers(rollout, 'v2', 200, 60); // 30%: worse than the baseline, not an outright failure
  rollout.tick();
  assert.deepEqual([rollout.state.status, rollout.state.failures], ['running', 1]);
  assert.match(
    (rollout.status() as { events: { detail: string }[] }).events.at(-1)!.detail,
    /failed check 1 of 2/,
  );
  rollout.tick();
  assert.equal(rollout.state.status, 'rolled_back');
  assert.equal(rollout.share(), 0);
  assert.equal(rollout.mirrorPercent(), 0);
  return registry.metrics().then((text) => {
    assert.match(text, /switchyard_rollout_events_total\{model="fraud",event="rolled_back"\} 1/);
    assert.match(text, /switchyard_rollout_candidate_share_ratio\{model="fraud",variant="v2"\} 0/);
  });
});

test('a candidate failing outright is rolled back before min_samples', () => {
  const { rollout } = controller(policy({ min_samples: 10_000 }));
  answers(rollout, 'v2', 20, 20);
  rollout.tick();
  assert.equal(rollout.state.status, 'rolled_back');
  assert.match(
    (rollout.status() as { events: { detail: string }[] }).events.at(-1)!.detail,
    /immediate abort/,
  );
});

test('pause_before waits for resume; pause, resume and abort act only in the states they fit', () => {
  const { rollout } = controller(policy({ pause_before: [50] }));
  answers(rollout, 'v1', 200);
  answers(rollout, 'v2', 200);
  rollout.tick();
  assert.deepEqual([rollout.state.status, rollout.step, rollout.state.waitingFor], ['paused', 10, 'resume']);
  rollout.tick(); // still passing: still waiting
  assert.equal(rollout.step, 10);
  assert.equal(rollout.pause(), false, 'already paused');
  assert.equal(rollout.resume(), true);
  assert.deepEqual([rollout.state.status, rollout.step, rollout.share()], ['running', 50, 0.5]);
  assert.equal(rollout.pause(), true);
  assert.equal(rollout.resume(), true);
  assert.equal(rollout.step, 50, 'an operator pause resumes where it was');
  assert.equal(rollout.abort(), true);
  assert.deepEqual([rollout.state.status, rollout.share()], ['rolled_back', 0]);
  assert.equal(rollout.resume(), false);
  assert.equal(rollout.abort(), false);
  assert.deepEqual(kinds(rollout), ['paused', 'resumed', 'advanced', 'paused', 'resumed', 'rolled_back']);
});

test('an unchanged hold is one event, however many intervals it lasts', () => {
  const { rollout } = controller(policy({ min_samples: 1000 }));
  for (let i = 0; i < 5; i++) rollout.tick();
  assert.deepEqual(kinds(rollout), ['held']);
});
