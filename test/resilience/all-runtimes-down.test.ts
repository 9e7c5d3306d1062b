import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { fraudRows } from '../harness/fraud.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway } from '../harness/gateway.js';
import { createClient, getJson, metricValue } from '../harness/http.js';
import { startRuntime } from '../harness/runtime.js';
import type { StartedProcess } from '../harness/process.js';

const BUDGET_MS = 250;
/** What the machine may add on top of the budget when it is busy with other work (2 cores). */
const SLACK_MS = 150;

test('every runtime killed under load: each answer is 200 within budget, the breaker opens, traffic returns by itself', async (t) => {
  const ports: number[] = [];
  const runtimes: StartedProcess[] = [];
  for (let i = 0; i < 2; i++) {
    const runtime = await startRuntime();
    runtimes.push(runtime);
    ports.push(Number(new URL(runtime.url).port));
  }
  const gateway = await startGateway(
    fraudGatewayConfig(
      runtimes.map((r) => r.url),
      {
        model: {
          budget_ms: BUDGET_MS,
          breaker: {
            error_threshold_percent: 50,
            volume_threshold: 5,
            reset_ms: 1000,
            rolling_window_ms: 5000,
          },
          fallback: [{ default: { decision: 'review' } }],
        },
      },
    ),
  );
  const client = createClient(16);
  const rows = fraudRows(50);
  const answers: { status: number; ms: number; fallback: string | undefined; decision: string }[] = [];
  let stop = false;
  const load = Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 20_000 && !stop; i++) {
        const started = performance.now();
        const response = await request(`${gateway.url}/v1/decisions/fraud`, {
          method: 'POST',
          dispatcher: client,
          headers: { 'content-type': 'application/json', ...AUTH },
          body: JSON.stringify(decisionBody(rows[(i * 8 + w) % rows.length]!, `u-${w}-${i}`)),
        });
        const body = (await response.body.json()) as { decision: string };
        answers.push({
          status: response.statusCode,
          ms: performance.now() - started,
          fallback: response.headers['x-switchyard-fallback'] as string | undefined,
          decision: body.decision,
        });
      }
    }),
  );
  const replacements: StartedProcess[] = [];
  try {
    await new Promise((resolve) => setTimeout(resolve, 800));
    for (const runtime of runtimes) await runtime.stop('SIGKILL');
    const killedAt = answers.length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const metrics = (await getJson(client, `${gateway.url}/metrics`)).text;
    assert.ok(
      metricValue(metrics, 'switchyard_breaker_state', { variant: 'v1' }) === 2 ||
        metricValue(metrics, 'switchyard_breaker_state', { variant: 'v2' }) === 2,
      'a breaker opened',
    );
    assert.ok(
      metricValue(metrics, 'switchyard_fallbacks_total', { kind: 'default', reason: 'circuit_open' }) > 0,
    );
    const down = answers.slice(killedAt);
    assert.ok(down.length > 50, `only ${down.length} answers while the runtimes were down`);
    assert.ok(down.slice(-20).every((a) => a.fallback?.startsWith('default; reason=')));
    assert.ok(down.slice(-20).every((a) => a.decision === 'review'));

    // The runtimes come back on the same addresses: the half-open probe lets traffic back in.
    for (const port of ports) replacements.push(await startRuntime({ args: ['--port', String(port)] }));
    const backAt = answers.length;
    const recovered = await (async () => {
      for (let i = 0; i < 100; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (
          answers
            .slice(backAt)
            .slice(-20)
            .filter((a) => !a.fallback).length === 20
        )
          return true;
      }
      return false;
    })();
    assert.ok(recovered, 'traffic did not go back to the runtimes');
  } finally {
    stop = true;
    await load;
    await client.close();
    assert.equal(await gateway.stop(), 0);
    for (const runtime of [...runtimes, ...replacements]) await runtime.stop();
  }
  const slowest = Math.max(...answers.map((a) => a.ms));
  t.diagnostic(
    `${answers.length} answers, slowest ${slowest.toFixed(1)} ms, ${answers.filter((a) => a.fallback).length} by fallback`,
  );
  assert.ok(
    answers.every((a) => a.status === 200),
    'every request answered 200',
  );
  assert.ok(slowest <= BUDGET_MS + SLACK_MS, `slowest answer ${slowest.toFixed(1)} ms`);
});
