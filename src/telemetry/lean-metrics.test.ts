import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { LeanCounter, LeanHistogram } from './lean-metrics.js';

const buckets = [0.001, 0.005, 0.01, 0.1];
const observations: [Record<'model' | 'variant', string>, number][] = [
  [{ model: 'fraud', variant: 'v1' }, 0.0004],
  [{ model: 'fraud', variant: 'v1' }, 0.001], // on a bound: counted in it (le is "less or equal")
  [{ model: 'fraud', variant: 'v1' }, 0.0071],
  [{ model: 'fraud', variant: 'v2' }, 0.25], // past every bound: +Inf only
  [{ model: 'fraud', variant: 'v1' }, 0.05],
  [{ model: 'text"dir', variant: 'a\\b' }, 0.002], // label values that need escaping
];

test('exposes the same text as prom-client’s Histogram for the same observations', async () => {
  const reference = new Registry();
  const lean = new Registry();
  const options = {
    name: 'h_seconds',
    help: 'A histogram.',
    labelNames: ['model', 'variant'] as const,
    buckets,
  };
  const theirs = new Histogram({ ...options, registers: [reference] });
  const ours = new LeanHistogram({ ...options, registers: [lean] });
  for (const [labels, value] of observations) {
    theirs.observe(labels, value);
    ours.labels(labels).observe(value);
  }
  assert.equal(await lean.metrics(), await reference.metrics());
});

test('a counter exposes the same text as prom-client’s Counter for the same increments', async () => {
  const reference = new Registry();
  const lean = new Registry();
  const options = { name: 'c_total', help: 'A counter.', labelNames: ['model', 'variant'] as const };
  const theirs = new Counter({ ...options, registers: [reference] });
  const ours = new LeanCounter({ ...options, registers: [lean] });
  for (const [labels, value] of observations) {
    const by = Math.round(value * 1000);
    theirs.inc(labels, by);
    ours.labels(labels).inc(by);
  }
  theirs.inc({ model: 'fraud', variant: 'v1' });
  ours.labels({ model: 'fraud', variant: 'v1' }).inc();
  assert.equal(await lean.metrics(), await reference.metrics());
});

test('a child is bound once per label set and a missing label is refused', () => {
  const ours = new LeanHistogram({
    name: 'h2_seconds',
    help: 'x',
    labelNames: ['model'] as const,
    buckets,
    registers: [],
  });
  assert.equal(ours.labels({ model: 'a' }), ours.labels({ model: 'a' }));
  assert.notEqual(ours.labels({ model: 'a' }), ours.labels({ model: 'b' }));
  assert.throws(() => ours.labels({} as { model: string }), /label "model" is missing/);
});

test('reset forgets every label set', async () => {
  const registry = new Registry();
  const ours = new LeanHistogram({
    name: 'h3_seconds',
    help: 'x',
    labelNames: ['m'] as const,
    buckets,
    registers: [registry],
  });
  ours.labels({ m: 'a' }).observe(0.002);
  assert.match(await registry.metrics(), /h3_seconds_count\{m="a"\} 1/);
  registry.resetMetrics();
  assert.doesNotMatch(await registry.metrics(), /h3_seconds_count/);
});
