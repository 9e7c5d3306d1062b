import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryBudget } from './retry-budget.js';

test('retries stay within the share of requests plus the minimum per second', () => {
  let now = 0;
  const budget = new RetryBudget(20, 3, () => now);
  // A start with 3 tokens; 100 requests deposit 20 more.
  for (let i = 0; i < 100; i++) budget.deposit();
  let granted = 0;
  while (budget.tryWithdraw()) granted++;
  assert.equal(granted, 23);
  now += 1000; // a second adds min_per_second
  assert.equal(budget.tryWithdraw(), true);
  assert.equal(budget.tryWithdraw(), true);
  assert.equal(budget.tryWithdraw(), true);
  assert.equal(budget.tryWithdraw(), false);
});

test('a long quiet spell cannot bank more than the cap', () => {
  let now = 0;
  const budget = new RetryBudget(20, 3, () => now);
  now += 3_600_000;
  let granted = 0;
  while (budget.tryWithdraw()) granted++;
  assert.equal(granted, 30);
});
