import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../test/harness/upstream-servers.js';
import { EdgeBins } from './bins.js';
import { quantileHistogram } from './build-reference.js';

test('edge bins are half-open [e_i, e_i+1), the last one closed, as numpy.histogram counts', () => {
  const bins = new EdgeBins([0, 1, 10, 100]);
  assert.equal(bins.count, 3);
  const expected: [number, number][] = [
    [0, 0],
    [0.999, 0],
    [1, 1],
    [9.99, 1],
    [10, 2],
    [100, 2],
  ];
  for (const [value, index] of expected) assert.equal(bins.index(value), index, `value ${value}`);
});

test('values outside the edges land in the edge bins, NaN in none', () => {
  const bins = new EdgeBins([0, 0.5, 1]);
  assert.equal(bins.index(-3), 0);
  assert.equal(bins.index(-Infinity), 0);
  assert.equal(bins.index(7), 1);
  assert.equal(bins.index(Infinity), 1);
  assert.equal(bins.index(Number.NaN), -1);
});

test('few bins (counted) and many (searched) agree with a plain scan of the edges', () => {
  const random = seededRandom(3);
  for (const count of [1, 2, 10, 16, 17, 40, 100]) {
    const edges = Array.from({ length: count + 1 }, (_, i) => i * i);
    const bins = new EdgeBins(edges);
    for (let n = 0; n < 1000; n++) {
      const value = n < 3 ? edges[n % edges.length]! : random() * (count * count + 100) - 50;
      let scanned = 0;
      while (scanned < count - 1 && value >= edges[scanned + 1]!) scanned++;
      assert.equal(bins.index(value), scanned, `${count} bins, value ${value}`);
    }
  }
});

test('edges must be finite and strictly ascending, at least two', () => {
  assert.throws(() => new EdgeBins([1]), /at least 2 edges/);
  assert.throws(() => new EdgeBins([0, 1, 1]), /must ascend/);
  assert.throws(() => new EdgeBins([0, Infinity]), /edge 1 is Infinity/);
});

test('a quantile histogram puts about a tenth of its values in each bin', () => {
  const random = seededRandom(11);
  // Long-tailed, like an amount: equal-width bins over [0, 20000] would hold nearly all in one.
  const values = Array.from({ length: 10000 }, () => Math.min(20000, Math.exp(4 + 1.25 * gaussian(random))));
  const { edges, counts } = quantileHistogram(values, { min: 0, max: 20000 });
  assert.equal(edges.length, 11);
  assert.equal(edges[0], 0);
  assert.equal(edges[10], 20000);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    10000,
  );
  for (const count of counts) assert.ok(count >= 990 && count <= 1010, `bin count ${count}`);
});

test('a discrete feature is cut between its levels, and repeated quantiles give fewer, filled bins', () => {
  const flags = Array.from({ length: 1000 }, (_, i) => (i < 880 ? 0 : 1));
  assert.deepEqual(quantileHistogram(flags, { min: 0, max: 1 }), { edges: [0, 0.5, 1], counts: [880, 120] });
  const hours = Array.from({ length: 2400 }, (_, i) => i % 24);
  const { edges, counts } = quantileHistogram(hours, { min: 0, max: 23 });
  for (const edge of edges.slice(1, -1)) assert.equal(edge % 1, 0.5, `cut ${edge} between hours`);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    2400,
  );
});

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
