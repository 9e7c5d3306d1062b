import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdmissionGate, type GateResult } from './gate.js';

test('admits up to max concurrency, then queues; leave() admits the next', async () => {
  const gate = new AdmissionGate(2, 10);
  assert.equal(gate.enter('normal', 1000), 'admitted');
  assert.equal(gate.enter('normal', 1000), 'admitted');
  const third = gate.enter('normal', 1000);
  assert.ok(third instanceof Promise);
  assert.equal(gate.queued, 1);
  gate.leave();
  assert.equal(await third, 'admitted');
  assert.equal(gate.inFlight, 2);
});

test('high waiters go before normal before low, FIFO within a priority', async () => {
  const gate = new AdmissionGate(1, 10);
  gate.enter('normal', 1000);
  const order: string[] = [];
  const track = (name: string, result: GateResult | Promise<GateResult>) =>
    Promise.resolve(result).then((r) => {
      order.push(`${name}:${r}`);
      gate.leave();
    });
  const all = [
    track('low1', gate.enter('low', 1000)),
    track('normal1', gate.enter('normal', 1000)),
    track('high1', gate.enter('high', 1000)),
    track('low2', gate.enter('low', 1000)),
    track('high2', gate.enter('high', 1000)),
  ];
  gate.leave();
  await Promise.all(all);
  assert.deepEqual(order, [
    'high1:admitted',
    'high2:admitted',
    'normal1:admitted',
    'low1:admitted',
    'low2:admitted',
  ]);
});

test('a full queue sheds a newcomer, unless it can displace a lower-priority waiter', async () => {
  const gate = new AdmissionGate(1, 2);
  gate.enter('high', 1000);
  const low1 = gate.enter('low', 1000);
  const low2 = gate.enter('low', 1000);
  assert.equal(gate.enter('low', 1000), 'queue_full');
  const high = gate.enter('high', 1000);
  assert.equal(await low2, 'displaced', 'the newest low waiter makes room');
  assert.equal(gate.enter('normal', 1000) instanceof Promise, true, 'displaces low1 in turn');
  assert.equal(await low1, 'displaced');
  assert.equal(gate.enter('normal', 1000), 'queue_full', 'nothing below normal is left to displace');
  gate.leave();
  assert.equal(await high, 'admitted');
});

test('a waiter whose time runs out leaves with budget; no time at all is refused at once', async () => {
  const gate = new AdmissionGate(1, 10);
  gate.enter('normal', 1000);
  assert.equal(gate.enter('normal', 0), 'budget');
  const started = performance.now();
  assert.equal(await gate.enter('normal', 20), 'budget');
  assert.ok(performance.now() - started >= 15);
  assert.equal(gate.queued, 0);
});

test('new limits apply at once', async () => {
  const gate = new AdmissionGate(1, 10);
  gate.enter('normal', 1000);
  const waiting = gate.enter('normal', 1000);
  gate.setLimits(2, 10);
  assert.equal(await waiting, 'admitted');
});
