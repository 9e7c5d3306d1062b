import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContractConfig } from './config.js';
import { decide, featuresToRow, rowRangeProblems } from './features.js';

const contract: ContractConfig = {
  input: 'features',
  output: 'score',
  features: [
    { name: 'amount', min: 0, max: 100 },
    { name: 'age', min: 0 },
    { name: 'new_device', min: 0, max: 1 },
  ],
  decisions: {
    below: 'approve',
    thresholds: [
      { at: 0.5, decision: 'review' },
      { at: 0.85, decision: 'decline' },
    ],
  },
};

test('features map to a row in contract order; booleans count as 0/1', () => {
  assert.deepEqual(featuresToRow(contract, { new_device: true, age: 3, amount: 12.5 }), {
    row: [12.5, 3, 1],
    problems: [],
  });
});

test('every problem is listed with its path', () => {
  const { row, problems } = featuresToRow(contract, { amount: 101, age: 'old', extra: 1 });
  assert.equal(row, undefined);
  assert.deepEqual(problems, [
    { path: '/features/amount', message: '101 is above the maximum 100' },
    { path: '/features/age', message: 'must be a number, got "old"' },
    { path: '/features/new_device', message: 'is missing' },
    { path: '/features/extra', message: 'is not a feature of this model' },
  ]);
  assert.deepEqual(featuresToRow(contract, [1, 2]).problems, [
    { path: '/features', message: 'must be an object of named feature values' },
  ]);
  assert.equal(
    featuresToRow(contract, { amount: -1, age: 0, new_device: 0 }).problems[0]!.message,
    '-1 is below the minimum 0',
  );
});

test('the highest threshold reached decides', () => {
  assert.deepEqual(decide(contract, 0.1), { decision: 'approve', threshold: 0.5 });
  assert.deepEqual(decide(contract, 0.5), { decision: 'review', threshold: 0.5 });
  assert.deepEqual(decide(contract, 0.84), { decision: 'review', threshold: 0.5 });
  assert.deepEqual(decide(contract, 0.85), { decision: 'decline', threshold: 0.85 });
  assert.deepEqual(decide(contract, 1), { decision: 'decline', threshold: 0.85 });
});

test('rows of numbers are held to the same ranges as named features, column by column', () => {
  // Two rows of [amount, age, new_device]; the flat index names each value.
  const data = [50, 10, 1, 101, -1, 0.5, true, 3, 2];
  const problems = rowRangeProblems(contract, data, (i) => `/data/${i}`);
  assert.deepEqual(problems, [
    { path: '/data/3', message: 'amount: 101 is above the maximum 100' },
    { path: '/data/4', message: 'age: -1 is below the minimum 0' },
    { path: '/data/8', message: 'new_device: 2 is above the maximum 1' },
  ]);
  assert.deepEqual(rowRangeProblems(contract, [0, 0, 0, 100, 9999, 1], String), []);
});
