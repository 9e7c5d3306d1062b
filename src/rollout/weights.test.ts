import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planRollback, planSet, toBuckets, userMoves, type Weighted } from './weights.js';

const weights = (pairs: Record<string, number>): Weighted[] =>
  Object.entries(pairs).map(([name, weight]) => ({ name, weight }));

function set(variants: readonly Weighted[], name: string, weight: number, previous?: Record<string, number>) {
  const plan = planSet('fraud', variants, [{ name, weight }], previous);
  assert.ok(plan.ok, plan.ok ? '' : plan.reason);
  return plan;
}

test('switching a canary off returns its users to the variant that gave them up, not to a variant at 0 listed between', () => {
  // v3 took 5% from v1 while v2 sat at 0 between them (the issue: `set v3=0` used to hand v2 the 5%).
  const before = weights({ v1: 95, v2: 0, v3: 5 });
  const plan = set(before, 'v3', 0);
  assert.deepEqual(plan.weights, weights({ v1: 100, v2: 0, v3: 0 }));
  assert.deepEqual(userMoves(before, plan.weights), [{ from: 'v3', to: 'v1', percent: 5 }]);
  assert.match(plan.notes!.join('\n'), /v3 gives 5 back to v1, the variant its users came from \(v2 at 0/);
});

test('raising a variant takes from the nearest variant before it with users, skipping those at 0', () => {
  const before = weights({ v1: 100, v2: 0, v3: 0 });
  const plan = set(before, 'v3', 5);
  assert.deepEqual(plan.weights, weights({ v1: 95, v2: 0, v3: 5 }));
  assert.deepEqual(userMoves(before, plan.weights), [{ from: 'v1', to: 'v3', percent: 5 }]);
  // First in the list, or nothing before it with users: the nearest after it with users.
  const first = set(weights({ v0: 0, v1: 0, v2: 100 }), 'v0', 10);
  assert.deepEqual(first.weights, weights({ v0: 10, v1: 0, v2: 90 }));
});

test('between two variants with users, lowering gives back to the one the rollback record shows giving', () => {
  // The last change moved users from v3 into v2 (v2's range grew at its end).
  const recorded = { v1: 50, v2: 0, v3: 50 };
  const now = weights({ v1: 50, v2: 10, v3: 40 });
  assert.deepEqual(
    userMoves(weights(recorded), now).map((m) => `${m.from}>${m.to}`),
    ['v3>v2'],
  );
  const plan = set(now, 'v2', 0, recorded);
  assert.deepEqual(plan.weights, weights(recorded));
  assert.deepEqual(userMoves(now, plan.weights), [{ from: 'v2', to: 'v3', percent: 10 }]);
  // Without the record the bordering variant before it is the one.
  assert.deepEqual(set(now, 'v2', 0).weights, weights({ v1: 60, v2: 0, v3: 40 }));
});

/** A deterministic stream of numbers in [0, 1): the same steps on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
}

test('any raises undone in reverse order put every user back; each step moves users between two variants only', () => {
  const next = random(23);
  let raises = 0;
  for (let round = 0; round < 40; round++) {
    const start = weights({ a: 40, b: 0, c: 30, d: 0, e: 30 });
    let current = start;
    const undo: { name: string; weight: number; record: Record<string, number> }[] = [];
    for (let step = 0; step < 6; step++) {
      const variant = current[Math.floor(next() * current.length)]!;
      const raised = Math.min(100, variant.weight + 1 + Math.floor(next() * 15));
      const plan = planSet('m', current, [{ name: variant.name, weight: raised }]);
      if (!plan.ok) continue; // the bordering variant could not pay: refused, nothing changes
      const moves = userMoves(current, plan.weights);
      assert.ok(moves.length <= 1 && moves.every((m) => m.to === variant.name), JSON.stringify(moves));
      undo.push({
        name: variant.name,
        weight: variant.weight,
        record: Object.fromEntries(current.map((v) => [v.name, v.weight])),
      });
      current = plan.weights;
      raises++;
    }
    for (const { name, weight, record } of undo.reverse()) {
      const plan = set(current, name, weight, record);
      const moves = userMoves(current, plan.weights);
      assert.ok(moves.length <= 1 && moves.every((m) => m.from === name), JSON.stringify(moves));
      current = plan.weights;
    }
    assert.deepEqual(userMoves(start, current), [], `round ${round}`);
    assert.deepEqual(
      current.map((v) => toBuckets(v.weight)),
      start.map((v) => toBuckets(v.weight)),
    );
  }
  assert.ok(raises > 120, `only ${raises} raises were accepted`);
});

test('rollback after a hand edit: a variant added since the record goes to 0, a recorded one at 0 that left is dropped', () => {
  const now = weights({ v1: 85, v3: 5, v2: 10 });
  const plan = planRollback('fraud', now, { v1: 90, v2: 10, v4: 0 });
  assert.ok(plan.ok, plan.ok ? '' : plan.reason);
  assert.deepEqual(plan.weights, weights({ v1: 90, v3: 0, v2: 10 }));
  assert.match(plan.notes!.join('\n'), /v3 is not in rollback_weights \(added since\): it goes to 0/);
  assert.match(plan.notes!.join('\n'), /v4 at 0, no longer a variant/);
  const refused = planRollback('fraud', weights({ v1: 100 }), { v1: 95, v3: 5 });
  assert.ok(!refused.ok);
  assert.match(refused.reason, /give users to v3 at 5, no longer a variant/);
});
