import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent } from 'undici';
import { FRAUD_EVALUATION_SEED, fraudDecision } from '../../scripts/fraud/synthetic.js';
import { bucketOf } from '../../src/stages/route/assign.js';
import { fraudRows, fraudScores } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  writeConfig,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { PROJECT_ROOT, waitFor, type StartedProcess } from '../harness/process.js';
import {
  describeLatency,
  percentile,
  shadowPair,
  withoutIds,
  type DecisionAnswer,
} from '../harness/resilience.js';
import { startRuntime } from '../harness/runtime.js';

/** The first rows of the fraud evaluation set (FRAUD_EVALUATION_SEED). */
const ROWS = 2000;
/** The shadow's runtime answers this much later than the primary's. */
const SHADOW_LATENCY_MS = 50;
/** The latency comparison: requests at this steady rate, half of the users mirrored. */
const LATENCY_ROWS = 400;
const LATENCY_RATE = 200;
const SALT = 'fraud-test'; // fraudGatewayConfig's routing salt

/** v1 takes every user; shadow v3 on its own (slow) upstream, mirrored at `percent`. */
function shadowConfig(primary: string, shadow: string, percent: number) {
  const config = fraudGatewayConfig([primary], {
    weights: [100, 0],
    model: {
      shadows: [{ name: 'v3', upstream: 'shadow', model: 'fraud', version: '3', percent }],
      // Room for every copy in flight even when the slow runtime falls behind on a busy machine:
      // this test measures agreement, not the cap.
      shadow_max_concurrency: 2048,
    },
  });
  return {
    ...config,
    upstreams: { ...config.upstreams, shadow: { ...config.upstreams.onnx, endpoints: [shadow] } },
  };
}

/**
 * Every row as a decision (user `user-<i>`), bounded in count and time; answers in row order.
 * With `rate`, request i starts no earlier than i / rate seconds in; without, 16 at a time.
 */
async function decide(
  client: Agent,
  gatewayUrl: string,
  rows: number[][],
  rate?: number,
): Promise<{ body: DecisionAnswer; ms: number }[]> {
  const startedAt = performance.now();
  return runBounded(
    rows.length,
    rate === undefined ? 16 : 32,
    async (i) => {
      if (rate !== undefined) {
        const wait = startedAt + (i * 1000) / rate - performance.now();
        if (wait > 0) await sleep(wait);
      }
      const sent = performance.now();
      const response = await postJson(
        client,
        `${gatewayUrl}/v1/decisions/fraud`,
        decisionBody(rows[i]!, `user-${i}`),
        AUTH,
      );
      const ms = performance.now() - sent;
      assert.equal(response.status, 200, response.text);
      return { body: response.body as DecisionAnswer, ms };
    },
    60_000,
  );
}

/** Rewrites the config and waits until the gateway serves the new version. */
async function reload(client: Agent, gateway: GatewayUnderTest, config: object): Promise<void> {
  const hash = async () =>
    ((await getJson(client, `${gateway.url}/readyz`)).body as { config: string }).config;
  const before = await hash();
  await writeConfig(gateway.configPath, config);
  await waitFor('the reloaded config', async () => (await hash()) !== before, 10_000);
}

test(
  'shadow v3 on a slow upstream: disagreement as measured directly, callers unaffected',
  { timeout: 120_000 },
  async (t) => {
    const runtimes: StartedProcess[] = [];
    let gateway: GatewayUnderTest | undefined;
    const client = createClient(48);
    const rows = fraudRows(ROWS, FRAUD_EVALUATION_SEED);
    try {
      const [primary, slowShadow] = await Promise.all([
        startRuntime(),
        startRuntime({ args: ['--added-latency-ms', String(SHADOW_LATENCY_MS)] }),
      ]);
      runtimes.push(primary, slowShadow);

      // What v1 and v3 decide on exactly these rows, asked of the runtime directly.
      const [v1, v3] = [
        await fraudScores(client, primary.url, '1', rows),
        await fraudScores(client, primary.url, '3', rows),
      ];
      const expected = v1.filter((score, i) => fraudDecision(score) !== fraudDecision(v3[i]!)).length / ROWS;
      const report = JSON.parse(
        await readFile(join(PROJECT_ROOT, 'config/models/fraud/training-report.json'), 'utf8'),
      ) as { disagreement: Record<string, { decision: { fraction: number } }> };
      const overAll = report.disagreement['1-3']!.decision.fraction;

      gateway = await startGateway(shadowConfig(primary.url, slowShadow.url, 0));
      await decide(client, gateway.url, rows.slice(0, 200)); // warm-up, nothing mirrored

      // Every row with the shadow at 100%, then again with the shadow off.
      await reload(client, gateway, shadowConfig(primary.url, slowShadow.url, 100));
      const on = await decide(client, gateway.url, rows);
      const pair = await waitFor(
        'every mirrored copy compared',
        async () => {
          const p = await shadowPair(client, gateway!.url, 'fraud', 'v1', 'v3');
          return p && p.sent + p.dropped >= ROWS && p.compared + p.errors >= p.sent ? p : undefined;
        },
        15_000,
      );
      const stats = await getJson(client, `${gateway.url}/admin/stats`, AUTH);
      const window = (stats.body as { models: { fraud: { latency_ms: { p50: number; p90: number } } } })
        .models.fraud.latency_ms;
      await reload(client, gateway, shadowConfig(primary.url, slowShadow.url, 0));
      const off = await decide(client, gateway.url, rows);
      const after = (await shadowPair(client, gateway.url, 'fraud', 'v1', 'v3'))!;

      // Latency: at 50% a user is in or out of the shadow by a hash of its key, so mirrored and
      // unmirrored requests interleave in one steady run and share whatever else the machine does.
      await reload(client, gateway, shadowConfig(primary.url, slowShadow.url, 50));
      const mixed = await decide(client, gateway.url, rows.slice(0, LATENCY_ROWS), LATENCY_RATE);
      const isMirrored = (i: number) => bucketOf(`${SALT}:shadow:v3`, `user-${i}`) < 5000;
      const mirroredMs = mixed.filter((_, i) => isMirrored(i)).map((a) => a.ms);
      const plainMs = mixed.filter((_, i) => !isMirrored(i)).map((a) => a.ms);
      const sentAt50 = (await shadowPair(client, gateway.url, 'fraud', 'v1', 'v3'))!.sent - after.sent;

      const onMs = on.map((a) => a.ms);
      const offMs = off.map((a) => a.ms);
      const margin = (a: number[], b: number[], p: number) =>
        (percentile(a, p) - percentile(b, p)).toFixed(1);
      t.diagnostic(
        `disagreement v1/v3 measured ${pct(pair.disagreement_rate)} over ${pair.compared} compared ` +
          `(sent ${pair.sent}, dropped ${pair.dropped}, errors ${pair.errors}); expected ${pct(expected)} on these ` +
          `${ROWS} rows; training report ${pct(overAll)} over all 20000`,
      );
      t.diagnostic(
        `${ROWS} rows, 16 at a time: shadow at 100% (+${SHADOW_LATENCY_MS} ms) ${describeLatency(onMs)}; ` +
          `shadow off ${describeLatency(offMs)}; margin p50 ${margin(onMs, offMs, 0.5)} ms, p99 ${margin(onMs, offMs, 0.99)} ms`,
      );
      t.diagnostic(
        `${LATENCY_ROWS} rows at ${LATENCY_RATE}/s, shadow at 50% (${sentAt50} mirrored): mirrored ${describeLatency(mirroredMs)}; ` +
          `not mirrored ${describeLatency(plainMs)}; margin p50 ${margin(mirroredMs, plainMs, 0.5)} ms, ` +
          `p99 ${margin(mirroredMs, plainMs, 0.99)} ms`,
      );
      t.diagnostic(
        `the model's latency window (admission, retries) after the 100% run: p50 ${window.p50.toFixed(1)} ms, ` +
          `p90 ${window.p90.toFixed(1)} ms`,
      );

      await t.test('the disagreement rate is the one of these rows, within 2 points', () => {
        assert.equal(pair.sent + pair.dropped, ROWS, JSON.stringify(pair));
        assert.ok(
          pair.compared >= ROWS * 0.98,
          `only ${pair.compared} of ${ROWS} compared: ${JSON.stringify(pair)}`,
        );
        assert.notEqual(pair.disagreement_rate, null);
        assert.ok(
          Math.abs(pair.disagreement_rate! - expected) <= 0.02,
          `measured ${pct(pair.disagreement_rate)}, expected ${pct(expected)}`,
        );
      });

      await t.test('the shadow never changes what the caller gets', () => {
        assert.equal(after.sent, pair.sent, 'nothing is mirrored at percent 0');
        for (let i = 0; i < ROWS; i++) {
          assert.equal(on[i]!.body.variant, 'v1');
          assert.deepEqual(withoutIds(on[i]!.body), withoutIds(off[i]!.body), `row ${i}`);
        }
      });

      await t.test('a mirrored request does not wait for its shadow', () => {
        assert.equal(
          sentAt50,
          mirroredMs.length,
          'the users the hash puts in the shadow are the ones mirrored',
        );
        assert.ok(mirroredMs.length > LATENCY_ROWS / 4 && plainMs.length > LATENCY_ROWS / 4);
        // Waiting for the shadow would put its whole added latency on the mirrored median.
        const p50 = [percentile(mirroredMs, 0.5), percentile(plainMs, 0.5)] as const;
        assert.ok(
          p50[0] < p50[1] + SHADOW_LATENCY_MS / 2,
          `median ${p50[0].toFixed(1)} ms mirrored, ${p50[1].toFixed(1)} ms not`,
        );
      });
    } finally {
      await client.close();
      await gateway?.stop();
      await Promise.all(runtimes.map((r) => r.stop()));
    }
  },
);

function pct(rate: number | null): string {
  return rate === null ? 'n/a' : `${(rate * 100).toFixed(2)}%`;
}
