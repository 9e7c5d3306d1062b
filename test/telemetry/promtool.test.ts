import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { AUTH, fraudGatewayConfig, startGateway, upstreamHealthy } from '../harness/gateway.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import { startRuntime } from '../harness/runtime.js';

/**
 * `promtool check metrics` (Prometheus's own linter, Debian's `prometheus` package; .ci/run
 * installs it) on the real /metrics of a gateway and a runtime that have served a request, so the
 * histograms and per-model series are there too. Skipped where promtool is not installed.
 */
const promtool = spawnSync('promtool', ['--version']).error === undefined;

/** promtool's verdict on an exposition: its exit code and what it printed. */
async function check(exposition: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin.end(exposition);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, output };
}

test(
  'the gateway and runtime expositions pass promtool check metrics',
  { skip: !promtool && 'promtool not found (apt-get install prometheus)' },
  async () => {
    const client = createClient(4);
    const runtime = await startRuntime();
    let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
    try {
      gateway = await startGateway(fraudGatewayConfig([runtime.url]));
      await upstreamHealthy(client, gateway.url);
      const served = await postJson(
        client,
        `${gateway.url}/v2/models/fraud/infer`,
        fraudRequest(fraudRows(2)),
        {
          ...AUTH,
          'x-user-id': 'u-1',
        },
      );
      assert.equal(served.status, 200, served.text);
      for (const [what, url, prefix] of [
        ['gateway', gateway.url, 'switchyard_process_'],
        ['runtime', runtime.url, 'switchyard_runtime_process_'],
      ] as const) {
        const { status, text } = await getJson(client, `${url}/metrics`);
        assert.equal(status, 200, what);
        const { code, output } = await check(text);
        assert.equal(output.trim(), '', `${what}: promtool says\n${output}`);
        assert.equal(code, 0, what);
        // The gauges prom-client names `..._total` are served without the suffix.
        assert.match(text, new RegExp(`^# TYPE ${prefix}nodejs_active_resources gauge$`, 'm'), what);
        assert.doesNotMatch(text, new RegExp(`^${prefix}nodejs_active_\\w+_total`, 'm'), what);
      }
    } finally {
      await client.close();
      if (gateway) assert.equal(await gateway.stop(), 0);
      assert.equal(await runtime.stop(), 0);
    }
  },
);
