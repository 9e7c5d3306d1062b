/** Anything with a load the balancer can compare. */
export interface Loaded {
  readonly inFlight: number;
}

/** Chooses one of the eligible candidates; the pool decides eligibility (health, drain, ejection). */
export interface Balancer {
  /**
   * Never returns a member of `exclude` while a candidate outside it exists; when every
   * candidate was already tried it chooses among them all, so a retry on a one-endpoint pool
   * can still go out (the caller checks `exclude.has(result)` if it would rather not).
   */
  pick<T extends Loaded>(candidates: readonly T[], exclude?: ReadonlySet<Loaded>): T | undefined;
}

/** A number in [0, 1), like Math.random; injectable so tests are deterministic. */
export type RandomSource = () => number;

/**
 * Power of two choices: sample two distinct candidates, take the one with fewer requests in
 * flight. Nearly as good as least-loaded, without herding every gateway replica onto the same
 * momentarily idle endpoint (Mitzenmacher; Envoy's LEAST_REQUEST, linkerd's P2C).
 */
export function createP2cBalancer(random: RandomSource = Math.random): Balancer {
  return {
    pick<T extends Loaded>(candidates: readonly T[], exclude?: ReadonlySet<Loaded>): T | undefined {
      let pool = candidates;
      if (exclude !== undefined && exclude.size > 0) {
        const untried = candidates.filter((c) => !exclude.has(c));
        if (untried.length > 0) pool = untried;
      }
      return pickTwo(pool, random);
    },
  };
}

function pickTwo<T extends Loaded>(pool: readonly T[], random: RandomSource): T | undefined {
  if (pool.length <= 1) return pool[0];
  const first = randomIndex(pool.length, random);
  // Draw from the other n-1 slots and skip over `first`, so the pair is always distinct.
  let second = randomIndex(pool.length - 1, random);
  if (second >= first) second += 1;
  const a = pool[first];
  const b = pool[second];
  if (a === undefined || b === undefined) return a ?? b;
  return b.inFlight < a.inFlight ? b : a;
}

function randomIndex(n: number, random: RandomSource): number {
  // Clamp: a source returning exactly 1 must not index past the end.
  return Math.min(n - 1, Math.floor(random() * n));
}
