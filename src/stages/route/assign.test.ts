import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BUCKETS,
  bucketOf,
  candidateFrom,
  cumulativeBounds,
  effectiveWeights,
  variantForBucket,
} from './assign.js';

test('the reference murmur3 matches published vectors, and bucketOf matches it', () => {
  // murmur3_32 seed 0 reference values: "" → 0, "hello" → 0x248bfa47, "The quick brown fox
  // jumps over the lazy dog" → 0x2e4ff723; the key "ö" is the two UTF-8 bytes c3 b6.
  assert.equal(murmurOf('hello'), 0x248bfa47 % BUCKETS);
  assert.equal(bucketOf('hel', 'lo'), murmurOf('hel:lo'));
  assert.equal(murmurOf('The quick brown fox jumps over the lazy dog'), 0x2e4ff723 % BUCKETS);
  assert.equal(bucketOf('s', 'ö'), bucketOf('s', 'ö'));
  assert.notEqual(bucketOf('s', 'ö'), bucketOf('s', 'o'));
});

/** Independent murmur3_32 over UTF-8 bytes, written from the algorithm's definition for the test. */
function murmurOf(text: string): number {
  const data = Buffer.from(text, 'utf8');
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = 0;
  const blocks = Math.floor(data.length / 4);
  for (let i = 0; i < blocks; i++) {
    let k = data.readUInt32LE(i * 4);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = blocks * 4;
  const rest = data.length & 3;
  if (rest >= 3) k ^= data[tail + 2]! << 16;
  if (rest >= 2) k ^= data[tail + 1]! << 8;
  if (rest >= 1) {
    k ^= data[tail]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= data.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % BUCKETS;
}

test('bucketOf agrees with an independent murmur3 on many keys, ASCII and not', () => {
  for (let i = 0; i < 2000; i++) {
    const key = i % 3 === 0 ? `user-${i}` : i % 3 === 1 ? `usér-${i}-日本` : `${i}🙂`;
    assert.equal(bucketOf('fraud-2026-11', key), murmurOf(`fraud-2026-11:${key}`), key);
  }
});

test('observed split over 100k keys is within ±1 point of the weights', () => {
  const weights = [70, 20, 7.5, 2.5, 0];
  const bounds = cumulativeBounds(weights);
  const counts = new Array<number>(weights.length).fill(0);
  const keys = 100_000;
  for (let i = 0; i < keys; i++) counts[variantForBucket(bounds, bucketOf('split-test', `u-${i}`))]!++;
  counts.forEach((count, i) => {
    const observed = (count / keys) * 100;
    assert.ok(
      Math.abs(observed - weights[i]!) <= 1,
      `variant ${i}: ${observed.toFixed(2)}% for weight ${weights[i]}`,
    );
  });
  assert.equal(counts[4], 0, 'a variant at weight 0 gets nobody');
});

/** A small seeded PRNG so the property test is repeatable. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('raising a variant by moving weight from a neighbour moves users only into it (property)', () => {
  const next = random(42);
  const users = Array.from({ length: 5000 }, (_, i) => bucketOf('prop', `user-${i}`));
  for (let trial = 0; trial < 500; trial++) {
    const count = 2 + Math.floor(next() * 4);
    // random weights in whole basis points summing to 100%
    const cuts = Array.from({ length: count - 1 }, () => Math.floor(next() * BUCKETS)).sort((a, b) => a - b);
    const basis = [...cuts, BUCKETS].map((cut, i) => cut - (i === 0 ? 0 : cuts[i - 1]!));
    const raised = Math.floor(next() * count);
    const neighbours = [raised - 1, raised + 1].filter((n) => n >= 0 && n < count && basis[n]! > 0);
    if (neighbours.length === 0) continue;
    const donor = neighbours[Math.floor(next() * neighbours.length)]!;
    const moved = 1 + Math.floor(next() * basis[donor]!);
    const after = [...basis];
    after[raised]! += moved;
    after[donor]! -= moved;
    const before = cumulativeBounds(basis.map((b) => b / 100));
    const later = cumulativeBounds(after.map((b) => b / 100));
    for (const bucket of users) {
      const was = variantForBucket(before, bucket);
      const is = variantForBucket(later, bucket);
      if (was !== is) {
        assert.equal(is, raised, `trial ${trial}: a user moved from ${was} to ${is}, not into ${raised}`);
        assert.equal(was, donor);
      }
    }
  }
});

test('with two variants, any raise of one moves users only into it (property)', () => {
  const next = random(7);
  const users = Array.from({ length: 5000 }, (_, i) => bucketOf('two', `user-${i}`));
  for (let trial = 0; trial < 500; trial++) {
    const a = Math.floor(next() * 10_001);
    const b = Math.floor(next() * 10_001);
    const [low, high] = a <= b ? [a, b] : [b, a];
    const raisedIndex = next() < 0.5 ? 0 : 1;
    const before = cumulativeBounds(
      raisedIndex === 0 ? [low / 100, (BUCKETS - low) / 100] : [high / 100, (BUCKETS - high) / 100],
    );
    const after = cumulativeBounds(
      raisedIndex === 0 ? [high / 100, (BUCKETS - high) / 100] : [low / 100, (BUCKETS - low) / 100],
    );
    for (const bucket of users) {
      const was = variantForBucket(before, bucket);
      const is = variantForBucket(after, bucket);
      if (was !== is) assert.equal(is, raisedIndex);
    }
  }
});

test('effective weights are the buckets each variant is assigned, a rollout carving its candidate from its baseline', () => {
  // Counted bucket by bucket as the route stage assigns them (src/stages/route/index.ts).
  const assigned = (weights: number[], baseline: number, candidate: number, share: number) => {
    const bounds = cumulativeBounds(weights);
    const low = baseline > 0 ? bounds[baseline - 1]! : 0;
    const counts = new Array<number>(weights.length).fill(0);
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      let index = variantForBucket(bounds, bucket);
      if (index === baseline && share > 0 && bucket >= candidateFrom(low, bounds[baseline]!, share))
        index = candidate;
      counts[index]!++;
    }
    return counts.map((c) => c / 100);
  };
  const cases: [number[], number, number, number][] = [
    [[100, 0], 0, 1, 0.25],
    [[70, 30, 0], 0, 2, 0.25],
    [[20, 55.55, 24.45, 0], 1, 3, 0.333],
    [[90, 10, 0], 1, 2, 1],
    [[90, 10, 0], 0, 2, 0],
  ];
  for (const [weights, baseline, candidate, share] of cases) {
    assert.deepEqual(
      effectiveWeights(weights, { baseline, candidate, share }),
      assigned(weights, baseline, candidate, share),
      JSON.stringify({ weights, share }),
    );
  }
  assert.deepEqual(
    effectiveWeights([70, 30, 0], { baseline: 0, candidate: 2, share: 0.25 }),
    [52.5, 30, 17.5],
  );
  assert.deepEqual(effectiveWeights([70, 30]), [70, 30]);
});
