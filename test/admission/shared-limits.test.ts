import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request, type Agent } from 'undici';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, getJson, metricValue } from '../harness/http.js';
import { REDIS_NOT_FOUND, startRedis } from '../harness/redis.js';
import { startRuntime } from '../harness/runtime.js';

const body = JSON.stringify(decisionBody(fraudRows(1)[0]!, 'u-1'));
const RPS = 50;
const BURST = 10;

/** Sends requests to the gateways in turn from `workers` loops until `ms` pass; counts statuses. */
async function drive(client: Agent, gateways: GatewayUnderTest[], ms: number, workers = 6) {
  const statuses = new Map<number, number>();
  const stopAt = Date.now() + ms;
  let turn = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < 20_000 && Date.now() < stopAt; i++) {
        const gateway = gateways[turn++ % gateways.length]!;
        const response = await request(`${gateway.url}/v1/decisions/fraud`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', ...AUTH },
          dispatcher: client,
        });
        await response.body.dump();
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        if (response.statusCode === 429) await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }),
  );
  return statuses;
}

const decisions = async (client: Agent, gateway: GatewayUnderTest, outcome: string) =>
  metricValue(
    (await getJson(client, `${gateway.url}/metrics`)).text,
    'switchyard_ratelimit_decisions_total',
    { outcome },
  );

test('two gateways on one redis-server enforce one limit; without Redis each keeps its share; then shared again', async (t) => {
  let redis;
  try {
    redis = await startRedis();
  } catch (error) {
    if (String(error).includes(REDIS_NOT_FOUND)) return t.skip(REDIS_NOT_FOUND);
    throw error;
  }
  const runtime = await startRuntime();
  const client = createClient(32);
  const config = {
    ...fraudGatewayConfig([runtime.url], {
      tenants: [
        {
          name: 'demo',
          keys: [{ sha256: '37cbfc183c342e976476530bb738059047143238dbbee2003f91b27a3d546483' }],
          scopes: ['infer', 'admin'],
          rate_limit: { rps: RPS, burst: BURST },
        },
      ],
    }),
    state: { redis_url: redis.url },
  };
  const gateways: GatewayUnderTest[] = [];
  try {
    gateways.push(await startGateway(config), await startGateway(config));
    // Let both heartbeats land, so each knows there are two replicas before Redis goes away.
    await new Promise((resolve) => setTimeout(resolve, 2500));

    const seconds = 6;
    const shared = await drive(client, gateways, seconds * 1000);
    const admitted = shared.get(200) ?? 0;
    const expected = RPS * seconds + BURST;
    assert.ok(
      Math.abs(admitted - expected) <= expected * 0.1,
      `admitted ${admitted}, expected ${expected} ±10%`,
    );
    assert.ok((shared.get(429) ?? 0) > admitted, 'the load was well above the limit');
    assert.deepEqual([...shared.keys()].sort(), [200, 429]);

    await redis.stop();
    const failOpenBefore = await decisions(client, gateways[0]!, 'fail_open');
    const alone = await drive(client, gateways, 4000);
    // Each replica enforces half of the limit: together still about one limit, never a 5xx.
    assert.deepEqual([...alone.keys()].sort(), [200, 429], `statuses while Redis is down: ${[...alone]}`);
    const admittedAlone = alone.get(200) ?? 0;
    assert.ok(admittedAlone <= (RPS * 4 + BURST) * 1.3, `admitted ${admittedAlone} without Redis`);
    assert.ok(admittedAlone >= RPS * 4 * 0.5, `admitted ${admittedAlone} without Redis`);
    assert.ok((await decisions(client, gateways[0]!, 'fail_open')) > failOpenBefore, 'fail_open counted');

    await redis.restart();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const failOpenAfterRestart = await decisions(client, gateways[0]!, 'fail_open');
    const sharedDecisions = async () =>
      (await decisions(client, gateways[0]!, 'over_limit')) + (await decisions(client, gateways[0]!, 'ok'));
    const sharedBefore = await sharedDecisions();
    await drive(client, gateways, 2000);
    const localAfter = (await decisions(client, gateways[0]!, 'fail_open')) - failOpenAfterRestart;
    const sharedAfter = (await sharedDecisions()) - sharedBefore;
    // Shared again. An event-loop pause longer than the Redis command timeout still decides a
    // few checks locally on a busy machine, by design; they must be the rare exception.
    assert.ok(
      sharedAfter > 0 && localAfter <= sharedAfter * 0.1,
      `shared ${sharedAfter}, local ${localAfter}`,
    );
  } finally {
    await client.close();
    for (const gateway of gateways) assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
    await redis.stop();
  }
});
