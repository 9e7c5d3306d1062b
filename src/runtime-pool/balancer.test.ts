import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createP2cBalancer } from './balancer.js';
import { seededRandom } from '../../test/harness/upstream-servers.js';

interface Fake {
  name: string;
  inFlight: number;
}

function fakes(...loads: number[]): Fake[] {
  return loads.map((inFlight, i) => ({ name: `e${i}`, inFlight }));
}

function histogram(pick: () => Fake | undefined, draws: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < draws; i++) {
    const chosen = pick();
    assert.ok(chosen);
    counts.set(chosen.name, (counts.get(chosen.name) ?? 0) + 1);
  }
  return counts;
}

describe('p2c balancer', () => {
  it('returns undefined for no candidates and the only one for one', () => {
    const balancer = createP2cBalancer(seededRandom(1));
    assert.equal(balancer.pick([]), undefined);
    const [only] = fakes(7);
    assert.equal(balancer.pick([only!]), only);
    // Even when it was already tried: a one-endpoint pool can still retry.
    assert.equal(balancer.pick([only!], new Set([only!])), only);
  });

  it('always takes the less loaded of two', () => {
    const balancer = createP2cBalancer(seededRandom(2));
    const [busy, idle] = fakes(5, 0);
    for (let i = 0; i < 100; i++) assert.equal(balancer.pick([busy!, idle!]), idle);
  });

  it('prefers the least loaded, never the most loaded, spreads equal loads evenly', () => {
    const balancer = createP2cBalancer(seededRandom(3));
    const draws = 20_000;

    const skewed = fakes(0, 10, 10, 10, 20);
    const counts = histogram(() => balancer.pick(skewed), draws);
    // The idle one wins every pair it is in: P = 1 - (4/5 × 3/4) = 0.4.
    assert.ok(Math.abs(counts.get('e0')! / draws - 0.4) < 0.02, `e0 share ${counts.get('e0')! / draws}`);
    // The busiest loses every pair it is in.
    assert.equal(counts.get('e4'), undefined);

    const even = fakes(3, 3, 3, 3);
    const evenCounts = histogram(() => balancer.pick(even), draws);
    for (const name of ['e0', 'e1', 'e2', 'e3']) {
      const share = (evenCounts.get(name) ?? 0) / draws;
      assert.ok(Math.abs(share - 0.25) < 0.02, `${name} share ${share}`);
    }
  });

  it('never picks an excluded candidate while another is left', () => {
    const balancer = createP2cBalancer(seededRandom(4));
    const all = fakes(0, 5, 9);
    const [idle, mid, busy] = all;
    const tried = new Set<Fake>([idle!]);
    const counts = histogram(() => balancer.pick(all, tried), 2000);
    assert.equal(counts.get('e0'), undefined);
    // Between the two left, P2C always takes the less loaded.
    assert.equal(counts.get('e1'), 2000);
    assert.equal(balancer.pick(all, new Set([idle!, mid!])), busy);
    // Everything tried: fall back to the whole set rather than fail the retry.
    assert.equal(balancer.pick(all, new Set(all)) !== undefined, true);
  });

  it('copes with a random source that returns its bounds', () => {
    const all = fakes(1, 2, 3);
    assert.ok(createP2cBalancer(() => 0).pick(all));
    assert.ok(createP2cBalancer(() => 0.9999999999).pick(all));
    assert.ok(createP2cBalancer(() => 1).pick(all));
  });
});
