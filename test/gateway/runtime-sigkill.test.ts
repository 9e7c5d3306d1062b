import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeLoad, sentBetween, summarize, type LoadRun } from '../harness/closed-loop.js';
import { AUTH, fraudGatewayConfig, startDecisionLoad, startGateway } from '../harness/gateway.js';
import { createClient, getJson, metricValue } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { waitFor } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';
import type { EndpointStatus } from '../../src/runtime-pool/endpoint.js';

/** How soon the gateway must take a killed runtime out of rotation (health: 2 × 200 ms; outlier: 3 errors). */
const OUT_OF_ROTATION_MS = 3000;

test(
  'SIGKILL to one of three runtimes under load: no failed request, the endpoint leaves rotation',
  {
    timeout: 60_000,
  },
  async () => {
    const runtimes: StartedProcess[] = [];
    let gateway: StartedProcess | undefined;
    let load: LoadRun | undefined;
    const client = createClient(4);
    const exitCodes: (number | string)[] = [];
    try {
      runtimes.push(...(await Promise.all([0, 1, 2].map(() => startRuntime()))));
      const [victim, ...others] = runtimes as [StartedProcess, StartedProcess, StartedProcess];
      gateway = await startGateway(
        fraudGatewayConfig(
          runtimes.map((r) => r.url),
          { weights: [50, 50] },
        ),
      );
      const gatewayUrl = gateway.url;

      const victimStatus = async (): Promise<EndpointStatus> => {
        const response = await getJson(client, `${gatewayUrl}/admin/upstreams`, AUTH);
        assert.equal(response.status, 200, response.text);
        const status = (response.body as { onnx: EndpointStatus[] }).onnx.find((e) => e.url === victim.url);
        assert.ok(status, `${victim.url} missing from ${response.text}`);
        return status;
      };
      const retries = async (): Promise<number> =>
        metricValue(
          (await getJson(client, `${gatewayUrl}/metrics`)).text,
          'switchyard_upstream_retries_total',
        );

      load = startDecisionLoad(gatewayUrl, {
        workers: 8,
        ratePerSecond: 300,
        maxRequests: 2000,
        maxMs: 5000,
      });
      await sleep(1500);

      const before = await victimStatus();
      assert.ok(before.requests > 0, `the victim served nothing before the kill: ${JSON.stringify(before)}`);
      const retriesBefore = await retries();
      const killedAt = performance.now();
      exitCodes.push(await victim.stop('SIGKILL'));
      assert.equal(exitCodes[0], 'SIGKILL');

      const out = await waitFor(
        'the killed runtime out of rotation',
        async () => {
          const status = await victimStatus();
          return status.ejected || status.health === 'unhealthy' ? status : undefined;
        },
        OUT_OF_ROTATION_MS,
      );
      const outAt = performance.now();
      const atOut = out.requests;

      const report = await load.finished;
      const summary = describeLoad(report);
      const after = await victimStatus();
      const retried = (await retries()) - retriesBefore;
      console.log(
        `# runtime-sigkill: ${summary}; out of rotation ${Math.round(outAt - killedAt)} ms after the kill ` +
          `(ejected ${out.ejected}, health ${out.health}); retries ${retried}; ` +
          `victim requests ${before.requests} before, ${after.requests - before.requests} after the kill ` +
          `(${after.errors - before.errors} errors), ${after.requests - atOut} after leaving rotation`,
      );
      assert.equal(report.failures.length, 0, `every request must succeed: ${summary}`);
      assert.equal(report.fallbacks.length, 0, `the model answered every request, no fallback: ${summary}`);
      const afterKill = summarize(sentBetween(report.samples, killedAt), 0);
      assert.ok(afterKill.ok > 100, `the other two must serve the rest: ${describeLoad(afterKill)}`);
      assert.ok(
        retried > 0 || after.requests === before.requests,
        `requests went to the killed runtime (${after.requests - before.requests}) without a retry`,
      );
      assert.ok(after.ejected || after.health === 'unhealthy', `back in rotation: ${JSON.stringify(after)}`);

      // Each 200 to a client came from one runtime: what the others did not serve, the victim served before it died.
      let servedByOthers = 0;
      for (const other of others) {
        const metrics = await getJson(client, `${other.url}/metrics`);
        servedByOthers += metricValue(metrics.text, 'switchyard_runtime_requests_total', {
          model: 'fraud',
          outcome: 'ok',
        });
      }
      const servedBeforeKill = summarize(sentBetween(report.samples, 0, killedAt), 0).ok;
      assert.ok(
        report.ok - servedByOthers <= servedBeforeKill,
        `the victim cannot have served ${report.ok - servedByOthers} of ${servedBeforeKill} requests sent before the kill`,
      );
    } finally {
      await load?.stop();
      await client.close();
      const rest = [gateway, ...runtimes.slice(1)].filter((p): p is StartedProcess => p !== undefined);
      if (exitCodes.length === 0 && runtimes[0]) exitCodes.push(await runtimes[0].stop('SIGKILL'));
      exitCodes.push(...(await Promise.all(rest.map((p) => p.stop()))));
    }
    assert.deepEqual(
      exitCodes,
      ['SIGKILL', ...exitCodes.slice(1).map(() => 0)],
      'the others exit 0 on SIGTERM',
    );
  },
);
