import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UpstreamPool } from '../runtime-pool/index.js';
import { ActiveGateway } from './active.js';
import type { BuiltGateway } from './build.js';
import { createGatewayMetrics } from '../telemetry/metrics.js';
import { ModelStates } from './model-state.js';

/** A pool stand-in that only records close(): ActiveGateway never calls anything else. */
function pool(name: string): UpstreamPool & { closed: number } {
  const fake = { name, closed: 0, close: async () => void fake.closed++ };
  return fake as unknown as UpstreamPool & { closed: number };
}

function version(hash: string, pools: UpstreamPool[]): BuiltGateway {
  return {
    snapshot: { hash } as BuiltGateway['snapshot'],
    authenticate: () => undefined as never,
    models: new Map(),
    pools: new Map(pools.map((p) => [p.name, p])),
    inFlight: 0,
  };
}

test('a pool shared by an older version still running stays open until that version finishes', () => {
  const p1 = pool('p1');
  const p2 = pool('p2');
  const a = version('a', [p1]);
  const b = version('b', [p1]); // a weights-only change keeps the pool
  const c = version('c', [p2]); // an upstream change builds a new one
  const active = new ActiveGateway(a, createGatewayMetrics(new ModelStates()));
  const onA = active.enter();
  active.swap(b);
  const onB = active.enter();
  active.swap(c);
  active.leave(onA);
  assert.equal(p1.closed, 0, 'b still runs on p1');
  active.leave(onB);
  assert.equal(p1.closed, 1, 'closed once, when its last version finished');
  assert.equal(p2.closed, 0);
});
