import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY_SHA256,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { waitFor, type LogLine, type StartedProcess } from '../harness/process.js';
import { REDIS_NOT_FOUND, startRedis, type StartedRedis } from '../harness/redis.js';
import { startRuntime } from '../harness/runtime.js';

/** Requests sent while Redis is down: far more than the log lines an outage may cost. */
const BURST = 400;

/** A log line about Redis: its message or any of its fields mentions it. */
const aboutRedis = (line: LogLine) => /redis/i.test(JSON.stringify(line));

test(
  'a Redis outage under traffic logs its start, its end and counts, not a line per request',
  { timeout: 90_000 },
  async (t) => {
    let redis: StartedRedis;
    try {
      redis = await startRedis();
    } catch (error) {
      if ((error as Error).message === REDIS_NOT_FOUND) return t.skip(REDIS_NOT_FOUND);
      throw error;
    }
    let runtime: StartedProcess | undefined;
    let gateway: GatewayUnderTest | undefined;
    const client = createClient(8);
    const rows = fraudRows(16, 7);
    const send = (prefix: string, count: number) =>
      runBounded(
        count,
        8,
        async (i) => {
          const response = await postJson(
            client,
            `${gateway!.url}/v1/decisions/fraud`,
            decisionBody(rows[i % rows.length]!, `user-${i}`),
            { ...AUTH, 'x-request-id': `${prefix}-${i}` },
          );
          assert.equal(response.status, 200, response.text);
        },
        30_000,
      );
    try {
      runtime = await startRuntime();
      // Every Redis user on the request path at once: the shared rate limit (high enough never
      // to refuse), the result cache (written after every live answer) and the prediction log's
      // stream.
      gateway = await startGateway({
        ...fraudGatewayConfig([runtime.url], {
          tenants: [
            {
              name: 'demo',
              keys: [{ sha256: DEMO_KEY_SHA256 }],
              scopes: ['infer', 'admin'],
              rate_limit: { rps: 100_000, burst: 100_000 },
            },
          ],
          model: { cache: { ttl_ms: 60_000 } },
        }),
        state: { redis_url: redis.url },
      });
      await upstreamHealthy(client, gateway.url);
      await send('up', 20);

      // By the lines' time, not their order: info lines reach stdout up to 100 ms late.
      const outageStart = Date.now();
      const since = (line: LogLine) => Number(line.time) >= outageStart;
      await redis.stop();
      await send('down', BURST);
      const outageMs = Date.now() - outageStart;
      // The prediction log writes behind the answers: let its last batch meet the dead Redis.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const duringOutage = gateway.logs.filter((l) => since(l) && aboutRedis(l));
      t.diagnostic(`${BURST} requests during the outage: ${duringOutage.length} log lines about Redis`);

      await redis.restart();
      await waitFor(
        'every Redis user reports Redis back',
        async () => {
          await send('probe', 4);
          const back = gateway!.logs.filter((l) => since(l) && /Redis reachable again/.test(String(l.msg)));
          return ['result cache', 'rate limiter', 'prediction log'].every((who) =>
            back.some((l) => String(l.msg).startsWith(who)),
          );
        },
        15_000,
        200,
      );
      const outageLines = gateway.logs.filter((l) => since(l) && aboutRedis(l));
      t.diagnostic(`from the outage to the recovery: ${outageLines.map((l) => l.msg).join(' | ')}`);

      // Per Redis user (cache, limiter, stream) one line when Redis goes and a count per 10 s
      // after it; each of the three connections logs its first error too.
      const bound = 3 * (1 + Math.floor(outageMs / 10_000)) + 3;
      assert.ok(
        duringOutage.length <= bound,
        `${duringOutage.length} lines about Redis during ${outageMs} ms of outage (at most ${bound})`,
      );
      for (const who of ['result cache', 'rate limiter', 'prediction log']) {
        const down = duringOutage.filter((l) => String(l.msg).startsWith(`${who}: Redis unreachable`));
        assert.equal(down.length, 1, `${who}: one line when Redis went away`);
      }
      // The recovery line says how much the outage affected: every request of the burst wrote
      // to the cache, took a local rate-limit decision, and had its record spill to the file.
      const affected = (who: string) =>
        Number(
          outageLines.find((l) => String(l.msg).startsWith(`${who}: Redis reachable again`))?.affected_total,
        );
      assert.ok(affected('result cache') >= BURST, `result cache affected ${affected('result cache')}`);
      assert.ok(affected('rate limiter') >= BURST, `rate limiter affected ${affected('rate limiter')}`);
      assert.ok(affected('prediction log') >= BURST, `prediction log affected ${affected('prediction log')}`);
    } finally {
      await client.close();
      if (gateway) assert.equal(await gateway.stop(), 0);
      if (runtime) assert.equal(await runtime.stop(), 0);
      await redis.stop();
    }
  },
);
