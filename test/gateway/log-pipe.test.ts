import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { AUTH, fraudGatewayConfig, startGateway, type GatewayUnderTest } from '../harness/gateway.js';
import { createClient, getJson, metricValue, postJson } from '../harness/http.js';

/**
 * A gateway whose stdout reader goes away (`switchyard gateway | head -3`) or stops reading must
 * go on serving and still drain on SIGTERM (issue 23): log lines it cannot write are dropped and
 * counted, never waited for.
 */
const client = createClient(8);
const started: GatewayUnderTest[] = [];

after(async () => {
  for (const gateway of started) await gateway.stop('SIGKILL');
  await client.close();
});

/** A gateway with no runtime behind it: every request to an unknown model is a 404 and a log line. */
async function gateway(): Promise<GatewayUnderTest> {
  const started_ = await startGateway(fraudGatewayConfig(['http://127.0.0.1:9']));
  started.push(started_);
  return started_;
}

/** `count` requests, each logged; every one answered. */
async function logLines(url: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await postJson(client, `${url}/v1/decisions/no-such-model`, { features: {} }, AUTH);
    assert.equal(response.status, 404, `request ${i}: ${response.text}`);
  }
}

async function stopsWithin(g: GatewayUnderTest, ms: number): Promise<number | string> {
  const exited = once(g.child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  process.kill(g.pid, 'SIGTERM');
  const timer = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), ms).unref());
  const outcome = await Promise.race([exited, timer]);
  assert.notEqual(outcome, 'hung', `the gateway did not exit within ${ms} ms of SIGTERM`);
  return outcome;
}

test('the stdout reader exits: the gateway keeps serving, counts the dropped lines, and drains on SIGTERM', async () => {
  const g = await gateway();
  g.child.stdout!.destroy(); // like `head` exiting: every later write gets EPIPE
  await logLines(g.url, 400); // ~100 KB of request lines: many writes past the broken pipe
  const live = await getJson(client, `${g.url}/livez`);
  assert.equal(live.status, 200);
  const metrics = await getJson(client, `${g.url}/metrics`);
  assert.ok(
    metricValue(metrics.text, 'switchyard_log_lines_dropped_total') >= 300,
    'the lines that could not be written are counted',
  );
  assert.equal(await stopsWithin(g, 10_000), 0);
});

test('the stdout reader stops reading: the gateway keeps serving and drains on SIGTERM', async () => {
  const g = await gateway();
  g.child.stdout!.pause(); // the pipe fills (64 KiB) and stays full
  await logLines(g.url, 1500); // ~400 KB of lines: far past what the pipe holds
  const live = await getJson(client, `${g.url}/livez`);
  assert.equal(live.status, 200);
  assert.equal(await stopsWithin(g, 10_000), 0);
});
