import assert from 'node:assert/strict';
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
import { createClient, postJson } from '../harness/http.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import {
  breakerState,
  describeLatency,
  fallbacks,
  gatewayMetrics,
  type DecisionAnswer,
} from '../harness/resilience.js';
import { startRuntime } from '../harness/runtime.js';

const BUDGET_MS = 250;
/** What a busy shared 2-core machine may add on top of the budget. */
const SLACK_MS = 150;
/** Inputs asked again and again (each by one user, so always of one variant): cached before the kill. */
const REPEATED = 32;
const RATE = 150;
const WORKERS = 8;
/** How long every runtime stays dead under load before new ones start. */
const DOWN_MS = 3000;
/** The whole load: no request starts after either bound. */
const MAX_REQUESTS = 6000;
const MAX_LOAD_MS = 40_000;

interface Sample {
  index: number;
  repeated: number | undefined;
  sentAt: number;
  ms: number;
  status: number;
  header: string | undefined;
  body: DecisionAnswer | undefined;
  error?: string;
}

const config = (runtimes: string[]) =>
  fraudGatewayConfig(runtimes, {
    weights: [50, 50],
    model: {
      budget_ms: BUDGET_MS,
      breaker: { error_threshold_percent: 50, volume_threshold: 5, reset_ms: 1000, rolling_window_ms: 5000 },
      cache: { ttl_ms: 60_000 },
      fallback: ['cache', { variant: 'v1' }, { default: { decision: 'review' } }],
    },
  });

test(
  'every runtime SIGKILLed under load: cache, variant, default answer in budget; the breakers open; traffic returns by itself',
  { timeout: 120_000 },
  async (t) => {
    const runtimes: StartedProcess[] = [];
    const replacements: StartedProcess[] = [];
    let gateway: GatewayUnderTest | undefined;
    const client = createClient(WORKERS + 4);
    const repeated = fraudRows(REPEATED, 501);
    const fresh = fraudRows(MAX_REQUESTS, 502);
    const samples: Sample[] = [];
    let stopped = false;
    let load: Promise<void> | undefined;
    try {
      runtimes.push(...(await Promise.all([startRuntime(), startRuntime()])));
      const ports = runtimes.map((r) => Number(new URL(r.url).port));
      gateway = await startGateway(config(runtimes.map((r) => r.url)));
      const url = `${gateway.url}/v1/decisions/fraud`;
      const metrics = () => gatewayMetrics(client, gateway!.url);

      // What the model says to each repeated input, which the cache keeps.
      const live: DecisionAnswer[] = [];
      for (let k = 0; k < REPEATED; k++) {
        const response = await postJson(client, url, decisionBody(repeated[k]!, `u-repeated-${k}`), AUTH);
        assert.equal(response.status, 200, response.text);
        live.push(response.body as DecisionAnswer);
        assert.equal(live[k]!.fallback, null, response.text);
      }

      // Steady load: even requests repeat an input, odd ones send one never seen before.
      const startedAt = performance.now();
      let next = 0;
      const worker = async (): Promise<void> => {
        while (!stopped && next < MAX_REQUESTS && performance.now() - startedAt < MAX_LOAD_MS) {
          const index = next++;
          const wait = startedAt + (index * 1000) / RATE - performance.now();
          if (wait > 0) await sleep(wait);
          const k = index % 2 === 0 ? (index / 2) % REPEATED : undefined;
          const body =
            k === undefined
              ? decisionBody(fresh[index]!, `u-fresh-${index}`)
              : decisionBody(repeated[k]!, `u-repeated-${k}`);
          const sentAt = performance.now();
          try {
            const response = await postJson(client, url, body, AUTH);
            const header = response.headers['x-switchyard-fallback'];
            samples.push({
              index,
              repeated: k,
              sentAt,
              ms: performance.now() - sentAt,
              status: response.status,
              header: typeof header === 'string' ? header : undefined,
              body: response.status === 200 ? (response.body as DecisionAnswer) : undefined,
              ...(response.status === 200 ? {} : { error: response.text.slice(0, 200) }),
            });
          } catch (error) {
            samples.push({
              index,
              repeated: k,
              sentAt,
              ms: performance.now() - sentAt,
              status: 0,
              header: undefined,
              body: undefined,
              error: String(error),
            });
          }
        }
      };
      load = Promise.all(Array.from({ length: WORKERS }, worker)).then(() => undefined);

      await sleep(1000);
      for (const runtime of runtimes) assert.equal(await runtime.stop('SIGKILL'), 'SIGKILL');
      const killedAt = performance.now();

      // Both breakers open (between half-open trials), and circuit_open answers keep coming.
      await waitFor(
        'both breakers open',
        async () => {
          const text = await metrics();
          return breakerState(text, 'fraud', 'v1') === 2 && breakerState(text, 'fraud', 'v2') === 2;
        },
        10_000,
      );
      const openAt = performance.now();
      const circuitOpen = fallbacks(await metrics(), { model: 'fraud', reason: 'circuit_open' });
      await sleep(Math.max(1000, killedAt + DOWN_MS - performance.now()));
      const circuitOpenLater = fallbacks(await metrics(), { model: 'fraud', reason: 'circuit_open' });

      // New runtimes on the very same addresses: nobody touches the gateway. Starting them (a
      // TypeScript load and three ONNX sessions each) takes the 2 cores for seconds, so the
      // budget is checked on the answers before it.
      const restartAt = performance.now();
      replacements.push(
        ...(await Promise.all(ports.map((port) => startRuntime({ args: ['--port', String(port)] })))),
      );
      const backAt = performance.now();
      await waitFor(
        'traffic back on the runtimes',
        async () => {
          const text = await metrics();
          const recent = samples.filter((s) => s.sentAt > performance.now() - 500);
          return (
            breakerState(text, 'fraud', 'v1') === 0 &&
            breakerState(text, 'fraud', 'v2') === 0 &&
            recent.length >= 20 &&
            recent.every((s) => s.status === 200 && s.body?.fallback === null)
          );
        },
        15_000,
      );
      const recoveredAt = performance.now();
      await sleep(500);
      const finalMetrics = await metrics();
      stopped = true;
      await load;

      const beforeRestart = samples.filter((s) => s.sentAt < restartAt);
      const down = beforeRestart.filter((s) => s.sentAt >= killedAt);
      const restarting = samples.filter((s) => s.sentAt >= restartAt && s.sentAt < recoveredAt);
      const after = samples.filter((s) => s.sentAt >= recoveredAt);
      const kinds: Record<string, number> = {};
      for (const s of down) kinds[s.header ?? '(none)'] = (kinds[s.header ?? '(none)'] ?? 0) + 1;
      t.diagnostic(
        `${samples.length} requests; breakers open ${Math.round(openAt - killedAt)} ms after the kill; new runtimes ` +
          `started ${Math.round(restartAt - killedAt)} ms after it, ready ${Math.round(backAt - restartAt)} ms later, ` +
          `traffic on them ${Math.round(recoveredAt - backAt)} ms after that`,
      );
      t.diagnostic(`while down (${down.length}): ${JSON.stringify(kinds)}`);
      t.diagnostic(
        `latency: before the restart ${describeLatency(beforeRestart.map((s) => s.ms))}; of which down ` +
          `${describeLatency(down.map((s) => s.ms))}; while restarting ${describeLatency(restarting.map((s) => s.ms))}; ` +
          `fallbacks circuit_open ${circuitOpen} → ${circuitOpenLater}; ` +
          `breakers at the end v1 ${breakerState(finalMetrics, 'fraud', 'v1')}, v2 ${breakerState(finalMetrics, 'fraud', 'v2')}`,
      );

      const slow = beforeRestart.filter((s) => s.ms > BUDGET_MS);
      if (slow.length > 0) {
        t.diagnostic(
          `over the budget (ms after the kill, ms taken, answer): ${slow
            .map((s) => `${Math.round(s.sentAt - killedAt)}/${Math.round(s.ms)}/${s.header ?? 'model'}`)
            .join(', ')}`,
        );
      }
      const failed = samples.filter((s) => s.status !== 200);
      assert.equal(failed.length, 0, `every request answered 200: ${JSON.stringify(failed.slice(0, 3))}`);
      for (const s of beforeRestart) {
        assert.ok(
          s.ms <= BUDGET_MS + SLACK_MS,
          `request ${s.index} took ${s.ms.toFixed(0)} ms (${s.header ?? 'model'})`,
        );
      }
      for (const s of samples) {
        const body = s.body!;
        assert.ok(['approve', 'review', 'decline'].includes(body.decision), JSON.stringify(body));
        if (body.fallback === null) assert.equal(s.header, undefined);
        else assert.equal(s.header, `${body.fallback.kind}; reason=${body.fallback.reason}`);
      }
      assert.ok(down.length > 100, `only ${down.length} requests while the runtimes were down`);
      for (const s of down) {
        const body = s.body!;
        assert.notEqual(body.fallback, null, `request ${s.index} after the kill answered without a fallback`);
        // budget_exhausted: the machine held the request past its budget before a call could start.
        assert.match(body.fallback!.reason, /^(circuit_open|upstream_error|no_endpoint|budget_exhausted)$/);
        if (s.repeated === undefined) {
          assert.equal(body.fallback!.kind, 'default', JSON.stringify(body));
          assert.equal(body.decision, 'review');
          assert.equal(body.score, null);
        } else {
          // The answer the model gave this input before the kill, from the cache.
          assert.equal(body.fallback!.kind, 'cache', JSON.stringify(body));
          const before = live[s.repeated]!;
          assert.deepEqual(
            [body.decision, body.score, body.variant, body.model_version],
            [before.decision, before.score, before.variant, before.model_version],
          );
        }
      }
      assert.ok(circuitOpen > 0, 'answers with reason circuit_open once the breakers are open');
      assert.ok(
        circuitOpenLater > circuitOpen,
        `circuit_open answers grow: ${circuitOpen} → ${circuitOpenLater}`,
      );
      assert.ok(after.length > 20, `only ${after.length} requests after recovery`);
      assert.ok(
        after.every((s) => s.body!.fallback === null),
        'once recovered, the runtimes answer every request',
      );
      assert.deepEqual(
        new Set(after.map((s) => s.body!.variant)),
        new Set(['v1', 'v2']),
        'both variants serve again',
      );
    } finally {
      stopped = true;
      await load;
      await client.close();
      await gateway?.stop();
      await Promise.all([...runtimes, ...replacements].map((r) => r.stop('SIGKILL')));
    }
  },
);
