import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import type { Agent } from 'undici';
import { createClient, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import type { StartedProcess } from '../harness/process.js';
import {
  breakerState,
  describeLatency,
  fallbacks,
  gatewayMetrics,
  percentile,
  variantFor,
  type DecisionAnswer,
} from '../harness/resilience.js';
import { startRuntime } from '../harness/runtime.js';

const BUDGET_MS = 200;
/** Slack over the budget for a shared 2-core machine: the gateway's own work, scheduling, the client. */
const SLACK_MS = 100;
const SLOW_MS = 400;
const SALT = 'fraud-test'; // fraudGatewayConfig's routing salt
const VARIANTS = ['v1', 'v2'];
const WEIGHTS = [50, 50];

/** v1 on runtime A, v2 on runtime B: separate upstreams, so a slow B cannot hold A's connections. */
function twoUpstreams(a: string, b: string, model: object = {}) {
  const config = fraudGatewayConfig([a], {
    weights: [50, 50],
    model: {
      budget_ms: BUDGET_MS,
      fallback: [{ variant: 'v1' }, { default: { decision: 'review' } }],
      ...model,
    },
  });
  const upstreams = { onnx: config.upstreams.onnx, 'onnx-b': { ...config.upstreams.onnx, endpoints: [b] } };
  const [v1, v2] = config.models.fraud.variants;
  return {
    ...config,
    upstreams,
    models: { fraud: { ...config.models.fraud, variants: [v1, { ...v2, upstream: 'onnx-b' }] } },
  };
}

interface Sample {
  /** The variant the user is assigned to, from the routing hash. */
  routed: string;
  status: number;
  variant: string | undefined;
  fallback: string | undefined;
  ms: number;
}

/** ~3 s of steady decisions (150 a second), half the users on each variant; bounded in count and time. */
async function runLoad(gatewayUrl: string, client: Agent, rows: number[][], count = 450): Promise<Sample[]> {
  const startedAt = performance.now();
  return runBounded(
    count,
    64, // enough that the pace, not the slowest answers, sets the rate

    async (i) => {
      const wait = startedAt + (i * 1000) / 150 - performance.now();
      if (wait > 0) await sleep(wait);
      const user = `u-slow-${randomInt(1_000_000_000)}`;
      const sent = performance.now();
      const response = await postJson(
        client,
        `${gatewayUrl}/v1/decisions/fraud`,
        decisionBody(rows[i % rows.length]!, user),
        AUTH,
      );
      const header = (name: string) => {
        const value = response.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      return {
        routed: variantFor(SALT, user, VARIANTS, WEIGHTS),
        status: response.status,
        variant: header('x-switchyard-variant'),
        fallback: header('x-switchyard-fallback'),
        ms: performance.now() - sent,
      };
    },
    (count * 1000) / 150 + 15_000,
  );
}

function describeSamples(samples: Sample[]): string {
  const count = (key: (s: Sample) => string) => {
    const counts: Record<string, number> = {};
    for (const s of samples) counts[key(s)] = (counts[key(s)] ?? 0) + 1;
    return JSON.stringify(counts);
  };
  return `${samples.length} requests, statuses ${count((s) => String(s.status))}, answered by ${count((s) => s.fallback ?? `model ${s.variant}`)}`;
}

test(
  'a slow variant: its requests are answered by the fallback within the budget, the other variant is unaffected',
  { timeout: 90_000 },
  async () => {
    const runtimes: StartedProcess[] = [];
    let gateway: GatewayUnderTest | undefined;
    const client = createClient(4);
    const rows = fraudRows(256, 11);
    try {
      const [a, fastB, slowB] = await Promise.all([
        startRuntime(),
        startRuntime(),
        startRuntime({ args: ['--added-latency-ms', String(SLOW_MS)] }),
      ]);
      runtimes.push(a, fastB, slowB);

      // Baseline: B as fast as A.
      gateway = await startGateway(twoUpstreams(a.url, fastB.url));
      await runLoad(gateway.url, client, rows, 60); // warm-up
      const baseline = await runLoad(gateway.url, client, rows);
      await gateway.stop();
      gateway = undefined;

      // The same load with B slower than the whole budget.
      gateway = await startGateway(twoUpstreams(a.url, slowB.url));
      await runLoad(gateway.url, client, rows, 60); // warm-up (B's breaker may start opening here)
      const slow = await runLoad(gateway.url, client, rows);
      const metrics = await gatewayMetrics(client, gateway.url);

      const ms = (samples: Sample[]) => samples.map((s) => s.ms);
      const baseV1 = baseline.filter((s) => s.routed === 'v1');
      const baseV2 = baseline.filter((s) => s.routed === 'v2');
      const slowV1 = slow.filter((s) => s.routed === 'v1');
      const slowV2 = slow.filter((s) => s.routed === 'v2');
      console.log(
        `# slow-runtime: baseline ${describeSamples(baseline)}\n` +
          `#   baseline v1 ${describeLatency(ms(baseV1))}; v2 ${describeLatency(ms(baseV2))}\n` +
          `#   B +${SLOW_MS} ms: ${describeSamples(slow)}\n` +
          `#   v1 ${describeLatency(ms(slowV1))}; v2 ${describeLatency(ms(slowV2))}\n` +
          `#   fallbacks_total by reason: budget_exhausted ${fallbacks(metrics, { reason: 'budget_exhausted' })}, ` +
          `circuit_open ${fallbacks(metrics, { reason: 'circuit_open' })}; breaker v1 ${breakerState(metrics, 'fraud', 'v1')}, v2 ${breakerState(metrics, 'fraud', 'v2')}`,
      );

      assert.ok(
        baseline.every((s) => s.status === 200 && s.fallback === undefined),
        `both runtimes fast: ${describeSamples(baseline)}`,
      );
      assert.ok(
        slow.every((s) => s.status === 200),
        `every request answered 200: ${describeSamples(slow)}`,
      );
      assert.ok(
        slowV1.length > 100 && slowV2.length > 100,
        `both variants got traffic: ${slowV1.length} / ${slowV2.length}`,
      );

      for (const s of slowV2) {
        assert.ok(
          s.ms <= BUDGET_MS + SLACK_MS,
          `a v2 request took ${s.ms.toFixed(0)} ms (${s.fallback ?? 'no fallback'}), budget ${BUDGET_MS} ms`,
        );
        assert.match(s.fallback ?? '(none)', /^(variant|default); reason=(budget_exhausted|circuit_open)$/);
      }
      for (const s of slowV1) {
        assert.equal(
          s.fallback,
          undefined,
          `a v1 request was answered by a fallback: ${describeSamples(slowV1)}`,
        );
        assert.equal(s.variant, 'v1');
      }
      const baseP99 = percentile(ms(baseV1), 0.99);
      const slowP99 = percentile(ms(slowV1), 0.99);
      assert.ok(
        slowP99 <= 100 || slowP99 <= 3 * baseP99,
        `v1's p99 ${slowP99.toFixed(1)} ms with B slow against ${baseP99.toFixed(1)} ms with B fast`,
      );
    } finally {
      await client.close();
      await gateway?.stop();
      await Promise.all(runtimes.map((r) => r.stop()));
    }
  },
);

test(
  'a variant that times out: the variant fallback answers in the time kept back for it',
  { timeout: 60_000 },
  async () => {
    const runtimes: StartedProcess[] = [];
    let gateway: GatewayUnderTest | undefined;
    const client = createClient(4);
    const rows = fraudRows(8, 12);
    const reserveMs = 80;
    try {
      runtimes.push(
        ...(await Promise.all([
          startRuntime(),
          startRuntime({ args: ['--added-latency-ms', String(SLOW_MS)] }),
        ])),
      );
      const [a, slowB] = runtimes as [StartedProcess, StartedProcess];
      // The breaker never opens here: every v2 request waits for its deadline, then falls back.
      gateway = await startGateway(
        twoUpstreams(a.url, slowB.url, {
          fallback_reserve_ms: reserveMs,
          breaker: { volume_threshold: 1000 },
        }),
      );
      const users: string[] = [];
      for (let i = 0; users.length < rows.length; i++) {
        if (variantFor(SALT, `u-reserve-${i}`, VARIANTS, WEIGHTS) === 'v2') users.push(`u-reserve-${i}`);
      }
      const answers: { header: unknown; body: DecisionAnswer; ms: number }[] = [];
      for (const [i, row] of rows.entries()) {
        const started = performance.now();
        const response = await postJson(
          client,
          `${gateway.url}/v1/decisions/fraud`,
          decisionBody(row, users[i]),
          AUTH,
        );
        assert.equal(response.status, 200, response.text);
        answers.push({
          header: response.headers['x-switchyard-fallback'],
          body: response.body as DecisionAnswer,
          ms: performance.now() - started,
        });
      }
      console.log(
        `# slow-runtime (reserve ${reserveMs} ms): ${answers.map((a) => `${String(a.header)} ${a.ms.toFixed(0)} ms`).join(', ')}`,
      );
      for (const answer of answers) {
        assert.ok(answer.ms <= BUDGET_MS + SLACK_MS, `answered after ${answer.ms.toFixed(0)} ms`);
        assert.equal(
          answer.header,
          'variant; reason=budget_exhausted',
          `v2 timed out and v1 had ${reserveMs} ms to answer`,
        );
        assert.equal(answer.body.variant, 'v1');
        assert.equal(typeof answer.body.score, 'number');
      }
    } finally {
      await client.close();
      await gateway?.stop();
      await Promise.all(runtimes.map((r) => r.stop()));
    }
  },
);
