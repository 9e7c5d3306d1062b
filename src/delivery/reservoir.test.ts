import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom as seeded } from '../../test/harness/upstream-servers.js';
import { Reservoir } from './reservoir.js';

test('the first capacity values are all kept, in arrival order', () => {
  const reservoir = new Reservoir(4, () => assert.fail('no draw before the reservoir is full'));
  for (const value of [5, 6, 7]) reservoir.add(value);
  assert.equal(reservoir.seen, 3);
  assert.deepEqual(Array.from(reservoir.values()), [5, 6, 7]);
  reservoir.add(8);
  assert.deepEqual(Array.from(reservoir.values()), [5, 6, 7, 8]);
});

test('once full, the i-th value replaces slot floor(random·(i+1)) when that slot exists', () => {
  const draws = [0, 0.999, 0.5];
  const reservoir = new Reservoir(2, () => draws.shift()!);
  reservoir.add(1);
  reservoir.add(2);
  reservoir.add(3); // i = 2: floor(0 · 3) = 0 → slot 0
  assert.deepEqual(Array.from(reservoir.values()), [3, 2]);
  reservoir.add(4); // i = 3: floor(0.999 · 4) = 3 ≥ 2 → dropped
  assert.deepEqual(Array.from(reservoir.values()), [3, 2]);
  reservoir.add(5); // i = 4: floor(0.5 · 5) = 2 ≥ 2 → dropped
  assert.deepEqual(Array.from(reservoir.values()), [3, 2]);
  assert.equal(reservoir.seen, 5);
});

test('every value of the stream is kept with probability capacity/seen', () => {
  const random = seeded(42);
  const streamLength = 50;
  const capacity = 10;
  const rounds = 20_000;
  const kept = new Array<number>(streamLength).fill(0);
  const reservoir = new Reservoir(capacity, random);
  for (let round = 0; round < rounds; round++) {
    reservoir.clear();
    for (let value = 0; value < streamLength; value++) reservoir.add(value);
    for (const value of reservoir.values()) kept[value]!++;
  }
  // Each count is Binomial(20000, 0.2): mean 4000, sd ≈ 57; 6 sd either side.
  for (let value = 0; value < streamLength; value++) {
    assert.ok(Math.abs(kept[value]! - 4000) < 340, `value ${value} kept ${kept[value]} times`);
  }
  // Early and late values alike: algorithm R has no recency bias.
  const early = kept.slice(0, 10).reduce((a, b) => a + b, 0);
  const late = kept.slice(-10).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(early - late) < 1000, `early ${early} vs late ${late}`);
});

test('values() is a copy and clear() starts over', () => {
  const reservoir = new Reservoir(3);
  reservoir.add(1);
  reservoir.add(2);
  const copy = reservoir.values();
  copy[0] = 99;
  assert.deepEqual(Array.from(reservoir.values()), [1, 2]);
  reservoir.clear();
  assert.equal(reservoir.seen, 0);
  assert.equal(reservoir.values().length, 0);
  reservoir.add(7);
  assert.deepEqual(Array.from(reservoir.values()), [7]);
});

test('a reservoir needs a whole positive capacity', () => {
  assert.throws(() => new Reservoir(0), RangeError);
  assert.throws(() => new Reservoir(-1), RangeError);
  assert.throws(() => new Reservoir(1.5), RangeError);
});
