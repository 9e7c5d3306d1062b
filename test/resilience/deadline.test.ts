import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, postJson, type JsonResponse, wireError } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { startRecordingProxy, type RecordingProxy } from '../harness/resilience.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorCode } from '../../src/errors.js';

/** Slack over a budget for a shared 2-core machine: the gateway's own work, scheduling, the client. */
const SLACK_MS = 100;
const RUNTIME_LATENCY_MS = 300;
const SHORT_BUDGET_MS = 100;
const LONG_BUDGET_MS = 250;
const CALLER_TIMEOUT_MS = 50;
interface Timed {
  response: JsonResponse;
  ms: number;
}

function assertExhausted(response: JsonResponse): void {
  assert.equal(response.status, 504, response.text);
  assert.equal(wireError(response.body)?.code, 'SWY_ERR_BUDGET_EXHAUSTED' satisfies ErrorCode, response.text);
  assert.equal(response.headers['x-switchyard-fallback'], undefined);
}

const REQUESTS = 5; // under the breaker's volume threshold (20): every answer is the deadline's

test(
  'a runtime slower than the budget and no fallback: 504 SWY_ERR_BUDGET_EXHAUSTED within the budget',
  { timeout: 60_000 },
  async () => {
    let runtime: StartedProcess | undefined;
    let proxy: RecordingProxy | undefined;
    let gateway: GatewayUnderTest | undefined;
    const client = createClient(4);
    const rows = fraudRows(2 * REQUESTS, 99);
    try {
      runtime = await startRuntime({ args: ['--added-latency-ms', String(RUNTIME_LATENCY_MS)] });
      proxy = await startRecordingProxy(runtime.url);
      const base = fraudGatewayConfig([proxy.url], {
        weights: [100, 0],
        model: { budget_ms: SHORT_BUDGET_MS, fallback: [] },
      });
      // The same model under a second name with the longer budget, for callers that bring their own.
      const config = {
        ...base,
        models: { fraud: base.models.fraud, fraud_long: { ...base.models.fraud, budget_ms: LONG_BUDGET_MS } },
      };
      gateway = await startGateway(config);

      const timed = async (
        model: string,
        i: number,
        headers: Record<string, string> = {},
      ): Promise<Timed> => {
        const started = performance.now();
        const response = await postJson(
          client,
          `${gateway!.url}/v1/decisions/${model}`,
          decisionBody(rows[i]!, `u-deadline-${i}`),
          { ...AUTH, ...headers },
        );
        return { response, ms: performance.now() - started };
      };
      const modelBudget: Timed[] = [];
      for (let i = 0; i < REQUESTS; i++) modelBudget.push(await timed('fraud', i));
      const sentForShort = proxy.inferHeaders.length;
      const callerBudget: Timed[] = [];
      for (let i = REQUESTS; i < 2 * REQUESTS; i++) {
        callerBudget.push(
          await timed('fraud_long', i, { 'x-request-timeout-ms': String(CALLER_TIMEOUT_MS) }),
        );
      }
      const timeouts = proxy.inferHeaders.map((h) => Number(h['x-request-timeout-ms']));
      const fmt = (results: Timed[]) =>
        results.map((r) => `${r.response.status} ${r.ms.toFixed(0)} ms`).join(', ');
      console.log(
        `# deadline: budget ${SHORT_BUDGET_MS} ms, runtime +${RUNTIME_LATENCY_MS} ms → [${fmt(modelBudget)}]; ` +
          `caller ${CALLER_TIMEOUT_MS} ms (budget ${LONG_BUDGET_MS} ms) → [${fmt(callerBudget)}]; ` +
          `x-request-timeout-ms sent [${timeouts.join(', ')}]`,
      );

      for (const { response, ms } of modelBudget) {
        assert.ok(
          ms <= SHORT_BUDGET_MS + SLACK_MS,
          `answered ${response.status} after ${ms.toFixed(0)} ms, budget ${SHORT_BUDGET_MS} ms`,
        );
        assertExhausted(response);
      }
      for (const { response, ms } of callerBudget) {
        assert.ok(
          ms <= CALLER_TIMEOUT_MS + SLACK_MS,
          `answered ${response.status} after ${ms.toFixed(0)} ms, caller's timeout ${CALLER_TIMEOUT_MS} ms`,
        );
        assertExhausted(response);
      }

      // The runtime was told what was left of each budget, so it can drop work nobody waits for.
      assert.ok(sentForShort >= REQUESTS, `the runtime got ${sentForShort} calls for ${REQUESTS} requests`);
      assert.ok(
        timeouts.every((t) => Number.isFinite(t) && t >= 0),
        `x-request-timeout-ms sent: ${JSON.stringify(timeouts)}`,
      );
      assert.ok(
        timeouts.slice(0, sentForShort).every((t) => t <= SHORT_BUDGET_MS),
        `within the model budget: ${JSON.stringify(timeouts)}`,
      );
      assert.ok(
        timeouts.slice(sentForShort).every((t) => t <= CALLER_TIMEOUT_MS),
        `within the caller's timeout: ${JSON.stringify(timeouts)}`,
      );
    } finally {
      await client.close();
      await gateway?.stop();
      await proxy?.close();
      await runtime?.stop();
    }
  },
);
