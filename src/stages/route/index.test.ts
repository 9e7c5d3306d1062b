import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { parseConfigText } from '../../config/load.js';
import type { ModelConfig } from '../../config/schema.js';
import type { ErrorCode } from '../../errors.js';
import type { Answer, Reply, RequestContext } from '../../pipeline/stage.js';
import type { TenantConfig } from '../auth/config.js';
import { bucketOf } from './assign.js';
import { createRoute } from './index.js';
import { createRouteMetrics } from './metrics.js';

const SALT = 'route-test';

/** The model as the gateway loads it: two variants at 50/50 and one at 0, keyed by x-user-id. */
function model(routing: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): ModelConfig {
  const variant = (name: string, weight: number) => ({
    name,
    upstream: 'onnx',
    model: 'fraud',
    version: name,
    weight,
  });
  const result = parseConfigText(
    stringify({
      tenants: [{ name: 't', keys: [{ sha256: 'a'.repeat(64) }], scopes: ['infer'] }],
      upstreams: { onnx: { endpoints: ['http://127.0.0.1:8001'] } },
      models: {
        fraud: {
          routing: { salt: SALT, ...routing },
          variants: [variant('v1', 50), variant('v2', 50), variant('dark', 0)],
          ...extra,
        },
      },
    }),
    {},
    'route.test.yaml',
  );
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  return result.snapshot.config.models.fraud!;
}

function context(headers: Record<string, string>, scopes: string[] = ['infer']): RequestContext {
  const now = performance.now();
  return {
    requestId: 'r-1',
    endpoint: 'infer',
    model: 'fraud',
    headers,
    body: undefined,
    receivedAt: now,
    deadline: now + 1000,
    tenant: { name: 't', scopes } as unknown as TenantConfig,
    userKey: undefined,
    variant: undefined,
    inference: undefined,
    inferenceText: undefined,
    stageMs: new Float64Array(1),
    headersOut: {},
  };
}

/** Runs the stage with a fake next that records the variant it was called with. */
async function route(stage: ReturnType<typeof createRoute>, ctx: RequestContext) {
  const calls: string[] = [];
  const answer: Answer = { ok: true, response: undefined, variant: 'x', version: 'x' };
  const reply: Reply = await stage.run(ctx, () => {
    calls.push(ctx.variant!.name);
    return Promise.resolve(answer);
  });
  return { reply, calls, code: reply.ok ? undefined : reply.error.code };
}

/** A user key whose salted hash lands in the first half of the buckets (v1) or the second (v2). */
function userIn(half: 'v1' | 'v2'): string {
  for (let i = 0; ; i++) {
    const key = `user-${i}`;
    if (bucketOf(SALT, key) < 5000 === (half === 'v1')) return key;
  }
}

test('a user key picks its variant by the salted hash, the same every time, and is counted', async () => {
  const registry = new Registry();
  const metrics = createRouteMetrics(registry);
  const stage = createRoute('fraud', model(), { metrics });
  for (const half of ['v1', 'v2'] as const) {
    const user = userIn(half);
    for (let i = 0; i < 3; i++) {
      const ctx = context({ 'x-user-id': user });
      const { reply, calls } = await route(stage, ctx);
      assert.ok(reply.ok);
      assert.deepEqual(calls, [half], `${user} goes to ${half}`);
      assert.equal(ctx.userKey, user);
    }
  }
  const text = await registry.metrics();
  assert.match(text, /switchyard_route_assignments_total\{model="fraud",variant="v1",source="key"\} 3/);
  assert.match(text, /switchyard_route_assignments_total\{model="fraud",variant="v2",source="key"\} 3/);
  assert.match(text, /switchyard_route_assignments_total\{model="fraud",variant="dark",source="key"\} 0/);
});

test('without a key: a random variant by weight, or a refusal when the model requires one', async () => {
  const metrics = createRouteMetrics(new Registry());
  const low = await route(createRoute('fraud', model(), { metrics, random: () => 0.1 }), context({}));
  const high = await route(createRoute('fraud', model(), { metrics, random: () => 0.9 }), context({}));
  assert.deepEqual([low.calls, high.calls], [['v1'], ['v2']], 'the 0-weight variant is never drawn');

  const strict = createRoute('fraud', model({ missing_key: 'reject' }), { metrics });
  const refused = await route(strict, context({}));
  assert.equal(refused.code, 'SWY_ERR_ROUTE_MISSING_KEY' satisfies ErrorCode);
  assert.deepEqual(refused.calls, [], 'next is not called');
});

test('the force header needs the debug scope and an existing variant', async () => {
  const stage = createRoute('fraud', model(), { metrics: createRouteMetrics(new Registry()) });
  const force = (name: string) => ({ 'x-switchyard-force-variant': name, 'x-user-id': userIn('v1') });

  const forbidden = await route(stage, context(force('dark')));
  assert.equal(forbidden.code, 'SWY_ERR_ROUTE_FORCE_FORBIDDEN' satisfies ErrorCode);
  assert.deepEqual(forbidden.calls, []);

  const forced = await route(stage, context(force('dark'), ['infer', 'debug']));
  assert.deepEqual(forced.calls, ['dark'], 'a 0-weight variant is reachable by force');

  const unknown = await route(stage, context(force('v9'), ['infer', 'debug']));
  assert.equal(unknown.code, 'SWY_ERR_ROUTE_UNKNOWN_VARIANT' satisfies ErrorCode);
  assert.deepEqual(unknown.calls, []);
});

test("a rollout's candidate takes the top of the baseline's bucket range: only baseline users move, and back at share 0", async () => {
  const rolloutModel = model(
    {},
    {
      rollout: {
        candidate: 'dark',
        baseline: 'v1',
        steps: [30, 100],
        criteria: { error_rate: { max_increase: 0.01 } },
      },
    },
  );
  let share = 0;
  const stage = createRoute('fraud', rolloutModel, {
    metrics: createRouteMetrics(new Registry()),
    rollout: { share: () => share },
  });
  const users = Array.from({ length: 3000 }, (_, i) => `user-${i}`);
  const assigned = async () => {
    const seen = new Map<string, string>();
    for (const user of users) seen.set(user, (await route(stage, context({ 'x-user-id': user }))).calls[0]!);
    return seen;
  };
  const before = await assigned();
  assert.ok(
    [...before.values()].every((v) => v !== 'dark'),
    'share 0: nobody on the candidate',
  );
  share = 0.3;
  const during = await assigned();
  for (const user of users) {
    const bucket = bucketOf(SALT, user);
    // v1 holds buckets [0, 5000): its top 30% is [3500, 5000).
    const expected = bucket >= 5000 ? 'v2' : bucket >= 3500 ? 'dark' : 'v1';
    assert.equal(during.get(user), expected, `${user} (bucket ${bucket})`);
  }
  share = 0.6;
  const grown = await assigned();
  for (const user of users) {
    if (during.get(user) === 'dark') assert.equal(grown.get(user), 'dark', 'growing never moves a user back');
    if (before.get(user) === 'v2') assert.equal(grown.get(user), 'v2', "v2's users never move");
  }
  share = 0;
  assert.deepEqual(await assigned(), before, 'rolled back: every user where they were');
});
