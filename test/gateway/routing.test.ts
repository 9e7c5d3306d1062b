import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketOf, cumulativeBounds, variantForBucket } from '../../src/stages/route/assign.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY_SHA256,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import {
  createClient,
  getJson,
  metricValue,
  postJson,
  type JsonResponse,
  wireError,
} from '../harness/http.js';
import { runBounded, tenantWithKey } from '../harness/load.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorCode } from '../../src/errors.js';

/**
 * Two gateway processes with one config in front of one runtime: assignment is the salted murmur3
 * of the user key against the weights, so every replica and every restart agrees, and it is the
 * same whether the key comes from the decision body or the x-user-id header.
 */

const SALT = 'fraud-test';
const WEIGHTS: [number, number] = [70, 30];
const VARIANTS = ['v1', 'v2'] as const;
const BOUNDS = cumulativeBounds(WEIGHTS);
const FORCE = 'x-switchyard-force-variant';

/** The variant src/stages/route/assign.ts gives `user`. */
function expectedVariant(user: string): string {
  return VARIANTS[variantForBucket(BOUNDS, bucketOf(SALT, user))]!;
}

function variantHeader(response: JsonResponse): string {
  assert.equal(response.status, 200, response.text);
  const variant = response.headers['x-switchyard-variant'];
  assert.equal(typeof variant, 'string');
  return variant as string;
}

function errorCode(response: JsonResponse): string | undefined {
  return wireError(response.body)?.code;
}

test('routing: replicas and restarts agree, body and header keys agree, weights hold', async (t) => {
  const checkout = tenantWithKey('checkout', ['infer']);
  const demo = { name: 'demo', keys: [{ sha256: DEMO_KEY_SHA256 }], scopes: ['infer', 'admin', 'debug'] };
  const started: StartedProcess[] = [];
  const client = createClient(64);
  try {
    const runtime = await startRuntime();
    started.push(runtime);
    const base = fraudGatewayConfig([runtime.url], { weights: WEIGHTS, tenants: [demo, checkout.tenant] });
    // A second model, identical but for refusing requests without a user key.
    const config = {
      ...base,
      models: {
        ...base.models,
        'fraud-strict': {
          ...base.models.fraud,
          routing: { ...base.models.fraud.routing, missing_key: 'reject' },
        },
      },
    };
    const launch = async (): Promise<GatewayUnderTest> => {
      const gateway = await startGateway(config);
      started.push(gateway);
      return gateway;
    };
    // Settled, not all: when one fails to start, the other is in `started` before cleanup runs.
    const launched = await Promise.allSettled([launch(), launch()]);
    const [first, second] = launched.map((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value;
    });
    const row = fraudRows(1)[0]!;

    const decide = (gateway: GatewayUnderTest, body: unknown, headers: Record<string, string> = {}) =>
      postJson(client, `${gateway.url}/v1/decisions/fraud`, body, { ...AUTH, ...headers });
    const metrics = async (gateway: GatewayUnderTest) =>
      (await getJson(client, `${gateway.url}/metrics`)).text;
    /** The variant each gateway gives each user by the decision body's user_id. */
    const assignments = (gateway: GatewayUnderTest, users: string[]) =>
      runBounded(users.length, 16, async (i) =>
        variantHeader(await decide(gateway, decisionBody(row, users[i]))),
      );

    // ASCII and non-ASCII keys: the hash runs over the UTF-8 bytes on every replica.
    const users = Array.from({ length: 200 }, (_, i) => (i % 4 === 3 ? `usér-${i}-日本` : `user-${i}`));
    const expected = users.map(expectedVariant);

    await t.test(
      'two gateways and a restarted one give each of 200 users the variant assign.ts computes',
      async () => {
        const [onFirst, onSecond] = await Promise.all([
          assignments(first!, users),
          assignments(second!, users),
        ]);
        assert.deepEqual(onFirst, expected);
        assert.deepEqual(onSecond, expected);
        assert.ok(new Set(expected).size === 2, 'both variants are among the users');

        assert.equal(await second!.stop(), 0);
        const restarted = await launch();
        assert.deepEqual(await assignments(restarted, users), expected, 'a restart keeps every assignment');
      },
    );

    await t.test('the body user_id and the x-user-id header route a user alike', async () => {
      const people = users.filter((u) => /^[\x20-\x7e]+$/.test(u)).slice(0, 60); // header values are ASCII
      await runBounded(people.length, 8, async (i) => {
        const user = people[i]!;
        const byBody = variantHeader(await decide(first!, decisionBody(row, user)));
        const byHeader = variantHeader(await decide(first!, decisionBody(row), { 'x-user-id': user }));
        const byInfer = variantHeader(
          await postJson(client, `${first!.url}/v2/models/fraud/infer`, fraudRequest([row]), {
            ...AUTH,
            'x-user-id': user,
          }),
        );
        assert.deepEqual([byBody, byHeader, byInfer], Array(3).fill(expectedVariant(user)), user);
      });
      // A numeric user_id is the same key as its decimal string in the header.
      const numeric = variantHeader(await decide(first!, { ...decisionBody(row), user_id: 4242 }));
      assert.equal(numeric, variantHeader(await decide(first!, decisionBody(row), { 'x-user-id': '4242' })));
      assert.equal(numeric, expectedVariant('4242'));
      // The key list is tried in order: body:user_id wins over the header.
      const v1User = users.find((u) => expectedVariant(u) === 'v1' && !u.includes('é'))!;
      const v2User = users.find((u) => expectedVariant(u) === 'v2' && !u.includes('é'))!;
      assert.equal(
        variantHeader(await decide(first!, decisionBody(row, v1User), { 'x-user-id': v2User })),
        'v1',
      );
      assert.equal(
        variantHeader(await decide(first!, decisionBody(row, v2User), { 'x-user-id': v1User })),
        'v2',
      );
    });

    await t.test('a non-ASCII key sent as UTF-8 in x-user-id routes like the same body user_id', async () => {
      // Header values arrive as bytes; curl, Go and browsers send a non-ASCII value as its UTF-8
      // bytes, which Node hands over decoded as latin1. The hash is defined over the key's UTF-8.
      const keys = users.filter((u) => u.includes('日本')).slice(0, 30);
      const differ: string[] = [];
      for (const user of keys) {
        const onTheWire = Buffer.from(user, 'utf8').toString('latin1'); // undici writes latin1 as-is
        const byHeader = variantHeader(await decide(first!, decisionBody(row), { 'x-user-id': onTheWire }));
        if (byHeader !== expectedVariant(user))
          differ.push(`${user}: ${byHeader}, not ${expectedVariant(user)}`);
      }
      assert.deepEqual(differ, [], 'header keys hash like the same key in the body');
    });

    await t.test('over 2000 users the split is within 3 points of 70/30', async () => {
      const before = await metrics(first!);
      const many = Array.from({ length: 2000 }, (_, i) => `split-${i}`);
      const seen = await runBounded(many.length, 32, async (i) =>
        variantHeader(
          await postJson(client, `${first!.url}/v2/models/fraud/infer`, fraudRequest([row]), {
            ...AUTH,
            'x-user-id': many[i]!,
          }),
        ),
      );
      assert.deepEqual(seen, many.map(expectedVariant));
      const after = await metrics(first!);
      for (const [index, variant] of VARIANTS.entries()) {
        const count = seen.filter((v) => v === variant).length;
        const percent = (count / many.length) * 100;
        assert.ok(Math.abs(percent - WEIGHTS[index]!) <= 3, `${variant}: ${percent.toFixed(1)}%`);
        const labels = { model: 'fraud', variant, source: 'key' };
        const counted =
          metricValue(after, 'switchyard_route_assignments_total', labels) -
          metricValue(before, 'switchyard_route_assignments_total', labels);
        assert.equal(counted, count, `assignments counted for ${variant}`);
      }
    });

    await t.test('a request without a key gets a random variant, counted as source="random"', async () => {
      const before = await metrics(first!);
      const seen = await runBounded(100, 8, async () =>
        variantHeader(await decide(first!, decisionBody(row))),
      );
      const after = await metrics(first!);
      const delta = (source: string) =>
        metricValue(after, 'switchyard_route_assignments_total', { model: 'fraud', source }) -
        metricValue(before, 'switchyard_route_assignments_total', { model: 'fraud', source });
      assert.equal(delta('random'), 100);
      assert.equal(delta('key'), 0);
      // At 70/30, 100 random draws all landing on one variant has odds below 1e-15.
      assert.deepEqual([...new Set(seen)].sort(), ['v1', 'v2']);
    });

    await t.test('missing_key: reject refuses a request without a key', async () => {
      const strict = `${first!.url}/v1/decisions/fraud-strict`;
      const refused = await postJson(client, strict, decisionBody(row), AUTH);
      assert.equal(refused.status, 400, refused.text);
      assert.equal(errorCode(refused), 'SWY_ERR_ROUTE_MISSING_KEY' satisfies ErrorCode);
      const user = users[0]!;
      assert.equal(
        variantHeader(await postJson(client, strict, decisionBody(row, user), AUTH)),
        expectedVariant(user),
      );
      assert.equal(
        variantHeader(await postJson(client, strict, decisionBody(row), { ...AUTH, 'x-user-id': user })),
        expectedVariant(user),
      );
    });

    await t.test(`${FORCE} works for a debug key only, and only for a known variant`, async () => {
      const v1User = users.find((u) => expectedVariant(u) === 'v1')!;
      const v2User = users.find((u) => expectedVariant(u) === 'v2')!;
      const before = await metrics(first!);
      const forced = await decide(first!, decisionBody(row, v1User), { [FORCE]: 'v2' });
      assert.equal(variantHeader(forced), 'v2');
      assert.equal(forced.headers['x-switchyard-model-version'], '2');
      assert.equal((forced.body as { model_version: string }).model_version, '2');
      assert.equal(variantHeader(await decide(first!, decisionBody(row, v2User), { [FORCE]: 'v1' })), 'v1');
      const after = await metrics(first!);
      const labels = { model: 'fraud', source: 'forced' };
      assert.equal(
        metricValue(after, 'switchyard_route_assignments_total', labels) -
          metricValue(before, 'switchyard_route_assignments_total', labels),
        2,
      );

      const asCheckout = (variant: string) =>
        postJson(client, `${first!.url}/v1/decisions/fraud`, decisionBody(row, v1User), {
          ...checkout.auth,
          [FORCE]: variant,
        });
      const forbidden = await asCheckout('v2');
      assert.equal(forbidden.status, 403, forbidden.text);
      assert.equal(errorCode(forbidden), 'SWY_ERR_ROUTE_FORCE_FORBIDDEN' satisfies ErrorCode);
      const unknown = await decide(first!, decisionBody(row, v1User), { [FORCE]: 'v9' });
      assert.equal(unknown.status, 400, unknown.text);
      assert.equal(errorCode(unknown), 'SWY_ERR_ROUTE_UNKNOWN_VARIANT' satisfies ErrorCode);
      // An infer-only key learns nothing about variant names: it is refused before the lookup.
      assert.equal(errorCode(await asCheckout('v9')), 'SWY_ERR_ROUTE_FORCE_FORBIDDEN' satisfies ErrorCode);
      // Without the header the same key is served normally.
      assert.equal(
        variantHeader(
          await postJson(
            client,
            `${first!.url}/v1/decisions/fraud`,
            decisionBody(row, v1User),
            checkout.auth,
          ),
        ),
        'v1',
      );
    });
  } finally {
    await client.close();
    // Gateways first (newest first), the runtime last; every one must exit cleanly.
    const codes: (number | string)[] = [];
    for (const child of started.reverse()) codes.push(await child.stop());
    assert.deepEqual(
      codes,
      codes.map(() => 0),
      'every process exits 0',
    );
  }
});
