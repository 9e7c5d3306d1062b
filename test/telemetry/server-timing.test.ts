import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import {
  formatServerTiming,
  parseServerTiming,
  type TimingEntry,
} from '../../src/telemetry/server-timing.js';
import { AUTH, decisionBody, fraudGatewayConfig, startGateway } from '../harness/gateway.js';
import { fraudRows } from '../harness/fraud.js';
import { createClient, postJson, type JsonResponse } from '../harness/http.js';
import { startRuntime } from '../harness/runtime.js';
import type { StartedProcess } from '../harness/process.js';

/** Each entry is rounded to the microsecond, so a sum of n entries may be off by n × 0.5 µs. */
const ROUNDING_MS = 0.0005;
/**
 * What the gateway's entries leave out: the promise hops between stages, microseconds each. A GC
 * pause may land in one, so the check allows half a millisecond or 5% of the total.
 */
const unmeasuredAllowance = (totalMs: number) => Math.max(0.5, 0.05 * totalMs);

/** The runtime's stand-in for a slow model: after the batch ran, so neither queue nor infer. */
const ADDED_LATENCY_MS = 25;

function timingOf(response: JsonResponse): Map<string, TimingEntry> {
  const value = response.headers['server-timing'];
  assert.equal(typeof value, 'string', 'a server-timing header');
  return new Map(parseServerTiming(value as string).map((entry) => [entry.name, entry]));
}

const dur = (timing: Map<string, TimingEntry>, name: string): number => {
  const entry = timing.get(name);
  assert.ok(entry?.dur !== undefined && entry.dur >= 0, `server-timing has ${name} with a duration`);
  return entry.dur;
};

/**
 * The checks every answered request must pass: the gateway's entries add up to the total, the
 * runtime's split adds up to the stage that called it, the budget left is what was given less
 * the total, and the total fits inside what the caller measured.
 */
function assertAddsUp(
  response: JsonResponse,
  options: { hopStage: 'upstream' | 'fallback'; stageNames: string[]; budgetMs: number; clientMs: number },
): Map<string, TimingEntry> {
  const timing = timingOf(response);
  const header = String(response.headers['server-timing']);
  const total = dur(timing, 'total');
  const gatewayParts = [...options.stageNames, 'other'];
  const sum = gatewayParts.reduce((s, name) => s + dur(timing, name), 0);
  assert.ok(
    sum <= total + ROUNDING_MS * gatewayParts.length,
    `the gateway's parts (${sum.toFixed(3)} ms) exceed the total ${total} ms: ${header}`,
  );
  assert.ok(
    total - sum <= unmeasuredAllowance(total),
    `the gateway's parts (${sum.toFixed(3)} ms) leave ${(total - sum).toFixed(3)} ms of ${total} ms unaccounted: ${header}`,
  );

  const hop = dur(timing, options.hopStage);
  const queue = dur(timing, 'rt-queue');
  const infer = dur(timing, 'rt-infer');
  const net = dur(timing, 'rt-net');
  assert.ok(
    queue + infer <= hop + 2 * ROUNDING_MS,
    `the runtime's own time fits in ${options.hopStage}: ${header}`,
  );
  assert.ok(
    Math.abs(net + queue + infer - hop) <= 3 * ROUNDING_MS,
    `rt-net + rt-queue + rt-infer = ${options.hopStage}`,
  );
  const rows = Number(timing.get('rt-batch')?.desc);
  assert.ok(Number.isInteger(rows) && rows >= 1, `rt-batch names the rows of the batch: ${header}`);

  assert.equal(timing.get('budget')?.desc, 'left');
  assert.ok(
    Math.abs(dur(timing, 'budget') + total - options.budgetMs) <= 2 * ROUNDING_MS,
    `budget left: ${header}`,
  );
  assert.ok(
    total <= options.clientMs,
    `the gateway's total ${total} ms within the caller's ${options.clientMs} ms`,
  );
  return timing;
}

test('formatServerTiming splits the hop that answered into rt-net, rt-queue and rt-infer', () => {
  const stageNames = ['auth', 'route', 'fallback', 'upstream'];
  const stageMs = Float64Array.from([0.1, 0.02, 0, 9.8]);
  const base = { stageNames, stageMs, pipelineMs: 9.95, totalMs: 10.2, budgetLeftMs: 240 };
  const runtimeTiming = 'queue;dur=2.1, infer;dur=6.9, batch;desc="4"';
  const upstream = parseServerTiming(
    formatServerTiming({ ...base, runtimeTiming, reply: { ok: true, response: undefined } as never }),
  );
  const byName = new Map(upstream.map((e) => [e.name, e]));
  assert.equal(byName.get('rt-net')?.dur, 0.8);
  assert.equal(byName.get('rt-queue')?.dur, 2.1);
  assert.equal(byName.get('rt-batch')?.desc, '4');
  assert.equal(byName.get('other')?.dur, 0.25);
  assert.equal(byName.get('budget')?.dur, 240);

  // A variant fallback answered: its stage is the hop the runtime's times belong to.
  stageMs[2] = 7.5;
  stageMs[3] = 1;
  const fallback = formatServerTiming({
    ...base,
    runtimeTiming: 'queue;dur=1, infer;dur=5',
    reply: { ok: true, fallback: { kind: 'variant', reason: 'upstream_error' } } as never,
  });
  assert.equal(new Map(parseServerTiming(fallback).map((e) => [e.name, e])).get('rt-net')?.dur, 1.5);

  // Without the runtime's own figures there is no split to make.
  const bare = formatServerTiming({ ...base, runtimeTiming: undefined, reply: { ok: true } as never });
  assert.ok(!bare.includes('rt-'), bare);
});

test('parseServerTiming reads names, dur and quoted or bare desc, and skips what it cannot read', () => {
  assert.deepEqual(parseServerTiming('a;dur=1.5, b;desc="x y";dur=2 ,c;desc=z, ;dur=3, d;dur=abc, e;dur='), [
    { name: 'a', dur: 1.5, desc: undefined },
    { name: 'b', dur: 2, desc: 'x y' },
    { name: 'c', dur: undefined, desc: 'z' },
    { name: 'd', dur: undefined, desc: undefined },
    { name: 'e', dur: undefined, desc: undefined },
  ]);
});

test(
  'server-timing parts add up to the total, through a real gateway and runtime',
  { timeout: 60_000 },
  async (t) => {
    const processes: StartedProcess[] = [];
    const client = createClient(1);
    t.after(async () => {
      await client.close();
      for (const process of processes.reverse()) await process.stop();
    });
    // A runtime that answers 25 ms late: the time must show up in the upstream hop, not elsewhere.
    const runtime = await startRuntime({ args: ['--added-latency-ms', String(ADDED_LATENCY_MS)] });
    processes.push(runtime);
    // v2 names a version the runtime lacks, so a request forced onto it is answered by v1 through
    // the variant fallback.
    const gateway = await startGateway(
      fraudGatewayConfig([runtime.url], {
        weights: [100, 0],
        model: {
          variants: [
            { name: 'v1', upstream: 'onnx', model: 'fraud', version: '1', weight: 100 },
            { name: 'v2', upstream: 'onnx', model: 'fraud', version: '9', weight: 0 },
          ],
          fallback: [{ variant: 'v1' }],
        },
      }),
    );
    processes.push(gateway);
    const rows = fraudRows(30);
    const stageNames = ['respond', 'auth', 'admission', 'validate', 'route', 'fallback', 'upstream'];

    const send = async (index: number, headers: Record<string, string>) => {
      const started = performance.now();
      const response = await postJson(
        client,
        `${gateway.url}/v1/decisions/fraud`,
        decisionBody(rows[index]!, `timing-${index}`),
        { ...AUTH, ...headers },
      );
      assert.equal(response.status, 200, response.text);
      return { response, clientMs: performance.now() - started };
    };

    await t.test('answered by the variant assigned', async () => {
      for (let i = 0; i < 20; i++) {
        const { response, clientMs } = await send(i, { 'x-request-timeout-ms': '800' });
        const timing = assertAddsUp(response, { hopStage: 'upstream', stageNames, budgetMs: 800, clientMs });
        assert.ok(dur(timing, 'upstream') >= ADDED_LATENCY_MS, 'the slow runtime is in the upstream stage');
        for (const name of ['respond', 'auth', 'admission', 'validate', 'route']) {
          assert.ok(dur(timing, name) < ADDED_LATENCY_MS, `${name} does not take the upstream's time`);
        }
      }
    });

    await t.test('answered by a variant fallback: the fallback stage holds the runtime hop', async () => {
      for (let i = 20; i < 30; i++) {
        const { response, clientMs } = await send(i, { 'x-switchyard-force-variant': 'v2' });
        assert.equal(response.headers['x-switchyard-fallback'], 'variant; reason=upstream_error');
        // No caller timeout: the model's own budget_ms of 1000.
        const timing = assertAddsUp(response, { hopStage: 'fallback', stageNames, budgetMs: 1000, clientMs });
        assert.ok(dur(timing, 'fallback') >= ADDED_LATENCY_MS, 'the answering call is in the fallback stage');
      }
    });
  },
);
