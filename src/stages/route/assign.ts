import murmur from 'murmurhash-js';

export const BUCKETS = 10_000;

// murmurhash-js reads one byte per UTF-16 code unit; handing it the UTF-8 bytes as a latin1
// string makes it the real murmur3_32 of the UTF-8 key, equal to other languages' implementations.
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/** `murmurhash3_32(salt + ":" + userKey) mod 10000`, seed 0, over the UTF-8 bytes. */
export function bucketOf(salt: string, userKey: string): number {
  const text = `${salt}:${userKey}`;
  const bytes = ASCII.test(text) ? text : Buffer.from(text, 'utf8').toString('latin1');
  return murmur.murmur3(bytes, 0) % BUCKETS;
}

/**
 * Upper bucket bounds of each variant, in variant order: variant i takes buckets
 * [bounds[i-1], bounds[i]). Weights are percents with at most two decimals, so they map to whole
 * buckets exactly; a weight of 0 takes none.
 */
export function cumulativeBounds(weights: readonly number[]): Int32Array {
  const bounds = new Int32Array(weights.length);
  let total = 0;
  weights.forEach((weight, i) => {
    total += Math.round(weight * 100);
    bounds[i] = total;
  });
  return bounds;
}

/** The variant index a bucket falls in. */
export function variantForBucket(bounds: Int32Array, bucket: number): number {
  for (let i = 0; i < bounds.length; i++) if (bucket < bounds[i]!) return i;
  return bounds.length - 1; // weights summing under 100 (never after validation): the last one
}

/**
 * Where a rollout's candidate starts in its baseline's bucket range [low, high): it serves the top
 * `share` of that range, so a larger share keeps the users of a smaller one.
 */
export function candidateFrom(low: number, high: number, share: number): number {
  return high - Math.round(share * (high - low));
}

/**
 * The weights (percent) that serve, as the route stage assigns them: the file's weights, with the
 * buckets a running rollout gives its candidate moved from its baseline. What the admin API shows
 * as `effective_weight`.
 */
export function effectiveWeights(
  weights: readonly number[],
  rollout?: { baseline: number; candidate: number; share: number },
): number[] {
  const buckets = weights.map((weight) => Math.round(weight * 100));
  if (rollout && rollout.share > 0) {
    const bounds = cumulativeBounds(weights);
    const low = rollout.baseline > 0 ? bounds[rollout.baseline - 1]! : 0;
    const high = bounds[rollout.baseline]!;
    const moved = high - candidateFrom(low, high, rollout.share);
    buckets[rollout.baseline]! -= moved;
    buckets[rollout.candidate]! += moved;
  }
  return buckets.map((b) => b / 100);
}
