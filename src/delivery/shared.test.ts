import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { Finished } from '../pipeline/stage.js';
import { silentLogger } from '../shared/logger.js';
import type { RolloutPolicy } from './config.js';
import { RolloutController } from './controller.js';
import { MemoryRolloutBackend } from './memory-store.js';
import { createDeliveryMetrics } from './metrics.js';
import { RolloutStoreUnavailableError } from './shared.js';
import type { RolloutStoreFactory } from './store.js';

const policy = {
  candidate: 'v2',
  baseline: 'v1',
  steps: [10, 50, 100],
  interval_s: 0.05,
  min_samples: 150,
  failure_limit: 2,
  pause_before: [50],
  mirror_percent: 100,
  criteria: { error_rate: { max_increase: 0.05 } },
} as RolloutPolicy;

function replica(
  backend: MemoryRolloutBackend,
  name: string,
  wrap: (stores: RolloutStoreFactory) => RolloutStoreFactory = (stores) => stores,
  logger = silentLogger,
): RolloutController {
  return new RolloutController('fraud', policy, undefined, {
    logger,
    metrics: createDeliveryMetrics(new Registry()),
    stores: wrap(backend.stores(name)),
  });
}

/** Stores that fail every call while `down.now` is set, as a client does while Redis is away. */
function flaky(down: { now: boolean }) {
  return (stores: RolloutStoreFactory): RolloutStoreFactory =>
    (...args) => {
      const store = stores(...args);
      const guard = <T>(call: () => Promise<T>): Promise<T> =>
        down.now ? Promise.reject(new Error('connect ECONNREFUSED')) : call();
      return {
        leaseMs: store.leaseMs,
        exchange: (delta, leader) => guard(() => store.exchange(delta, leader)),
        evidence: (stepIndex) => guard(() => store.evidence(stepIndex)),
        read: () => guard(() => store.read()),
        write: (progress, version, asLeader) => guard(() => store.write(progress, version, asLeader)),
        release: () => store.release(),
      };
    };
}

function answers(rollout: RolloutController, variant: string, count: number): void {
  for (let i = 0; i < count; i++) {
    rollout.evidence.recordAnswer({
      ctx: { variant: { name: variant }, receivedAt: 0, inference: undefined },
      reply: { ok: true, response: { outputs: [] } },
      response: { status: 200, body: {} },
      finishedAt: 5,
    } as unknown as Finished);
  }
}

type View = {
  leader: boolean;
  status: string;
  step: number;
  step_index: number;
  events: { event: string }[];
};
const view = (rollout: RolloutController) => rollout.status() as View;

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('replicas share one rollout: one leader judges everyone’s evidence, all serve its step; another continues it', async () => {
  const backend = new MemoryRolloutBackend();
  const a = replica(backend, 'a');
  const b = replica(backend, 'b');
  try {
    a.start();
    await until('a leads', () => view(a).leader);
    b.start();
    // Each replica alone has too little evidence (min_samples 150 a side); together they have enough.
    answers(a, 'v1', 100);
    answers(a, 'v2', 100);
    answers(b, 'v1', 100);
    answers(b, 'v2', 100);
    await until('paused before 50 on both', () => view(a).status === 'paused' && view(b).status === 'paused');
    assert.equal(view(b).leader, false);
    assert.deepEqual([a.step, b.step, a.share(), b.share()], [10, 10, 0.1, 0.1]);

    // The leader goes; the other takes the lease and goes on from step 10, not from the start.
    a.stop();
    await until('b leads', () => view(b).leader);
    assert.equal(view(b).step, 10);
    // An operator's resume on the new leader; then its evidence alone completes the rollout.
    assert.equal(await b.act('resume'), true);
    assert.equal(b.step, 50);
    answers(b, 'v1', 200);
    answers(b, 'v2', 200);
    await until('completed', () => view(b).status === 'completed');
    assert.equal(b.share(), 1);
    const kinds = view(b).events.map((e) => e.event);
    assert.equal(kinds.filter((k) => k === 'started').length, 1, kinds.join(' '));
    assert.deepEqual(
      kinds.filter((k) => k !== 'held'),
      ['started', 'paused', 'resumed', 'advanced', 'advanced', 'completed'],
    );
  } finally {
    a.stop();
    b.stop();
  }
});

test('a refused action changes nothing; pause on a follower is honoured by the leader', async () => {
  const backend = new MemoryRolloutBackend();
  const a = replica(backend, 'a');
  const b = replica(backend, 'b');
  try {
    a.start();
    await until('a leads', () => view(a).leader);
    b.start();
    await until('b follows the stored progress', () => view(b).events.length > 0);
    assert.equal(await b.act('resume'), false, 'running: nothing to resume');
    assert.equal(await b.act('pause'), true);
    await until('the leader serves the pause', () => view(a).status === 'paused');
    answers(a, 'v1', 200);
    answers(a, 'v2', 200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual([view(a).status, a.step], ['paused', 10], 'passing, but paused: it waits');
  } finally {
    a.stop();
    b.stop();
  }
});

test('the store unreachable: the rollout holds where it is, says so once, refuses actions; then goes on', async () => {
  const backend = new MemoryRolloutBackend();
  const down = { now: false };
  const lines: { level: string; msg: string }[] = [];
  const logger = {
    info: (_: object, msg: string) => lines.push({ level: 'info', msg }),
    warn: (_: object, msg: string) => lines.push({ level: 'warn', msg }),
    error: (_: object, msg: string) => lines.push({ level: 'error', msg }),
  };
  const a = replica(backend, 'a', flaky(down), logger);
  try {
    a.start();
    await until('a leads', () => view(a).leader);
    down.now = true;
    answers(a, 'v1', 200);
    answers(a, 'v2', 200);
    await new Promise((resolve) => setTimeout(resolve, 400)); // eight intervals
    assert.deepEqual(
      [view(a).status, a.step, a.share()],
      ['running', 10, 0.1],
      'no judgement, no step change',
    );
    const holding = (a.status() as { shared: { holding: string | null } }).shared.holding;
    assert.match(holding ?? '', /unreachable/);
    const warned = lines.filter((l) => l.level === 'warn' && /Redis unreachable/.test(l.msg));
    assert.equal(warned.length, 1, 'one log line per outage');
    await assert.rejects(a.act('pause'), RolloutStoreUnavailableError);

    down.now = false;
    answers(a, 'v1', 200); // what was drained during the outage was dropped
    answers(a, 'v2', 200);
    await until('paused before 50', () => view(a).status === 'paused');
    assert.equal((a.status() as { shared: { holding: string | null } }).shared.holding, null);
    assert.ok(lines.some((l) => l.msg === 'rollout: Redis reachable again'));
  } finally {
    a.stop();
  }
});
