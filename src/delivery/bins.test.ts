import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FixedBins } from './bins.js';

test('equal-width bins are half-open, the last one holding max', () => {
  const bins = new FixedBins(0, 8, 4);
  assert.equal(bins.count, 4);
  const expected: [number, number][] = [
    [0, 0],
    [1.999, 0],
    [2, 1],
    [3.5, 1],
    [4, 2],
    [6, 3],
    [7.999, 3],
    [8, 3],
  ];
  for (const [value, index] of expected) assert.equal(bins.index(value), index, `value ${value}`);
});

test('values outside the range land in the edge bins, NaN in none', () => {
  const bins = new FixedBins(-1, 1, 10);
  assert.equal(bins.index(-5), 0);
  assert.equal(bins.index(-Infinity), 0);
  assert.equal(bins.index(5), 9);
  assert.equal(bins.index(Infinity), 9);
  assert.equal(bins.index(Number.NaN), -1);
});

test('decimal edges that do not round-trip in binary still land in their own bin', () => {
  const bins = new FixedBins(0, 1, 10);
  for (let i = 0; i < 10; i++) assert.equal(bins.index(i / 10), i, `value ${i / 10}`);
  assert.equal(bins.index(1 - Number.EPSILON), 9);
  assert.equal(bins.index(0.999999999), 9);
});

test('every index is within 0..count-1 across and beyond the range', () => {
  const bins = new FixedBins(3, 17, 7);
  let previous = 0;
  for (let value = 0; value <= 20; value += 0.01) {
    const index = bins.index(value);
    assert.ok(index >= 0 && index < 7, `value ${value} → ${index}`);
    assert.ok(index >= previous, 'bin index never decreases as the value grows');
    previous = index;
  }
});

test('bins refuse an empty or inverted range and a non-whole count', () => {
  assert.throws(() => new FixedBins(1, 1, 4), RangeError);
  assert.throws(() => new FixedBins(2, 1, 4), RangeError);
  assert.throws(() => new FixedBins(0, Infinity, 4), RangeError);
  assert.throws(() => new FixedBins(Number.NaN, 1, 4), RangeError);
  assert.throws(() => new FixedBins(0, 1, 0), RangeError);
  assert.throws(() => new FixedBins(0, 1, 2.5), RangeError);
});
