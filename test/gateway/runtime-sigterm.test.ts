import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeLoad, sentBetween, summarize, type LoadRun } from '../harness/closed-loop.js';
import { AUTH, fraudGatewayConfig, startDecisionLoad, startGateway } from '../harness/gateway.js';
import { createClient, getJson, metricValue } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { grpcPortOf, startRuntime } from '../harness/runtime.js';
import type { EndpointStatus } from '../../src/runtime-pool/endpoint.js';

/** Longer than two health-check intervals (200 ms), so the gateway sees ready=503 before the listener closes. */
const DRAIN_DELAY_MS = 1500;

/**
 * The pool's endpoint for a runtime: its REST URL, or its gRPC one (issue 21: a grpc:// pool is
 * health-checked over grpc.health.v1, whose NOT_SERVING during the drain delay is the ready 503).
 */
const endpointOf = (runtime: StartedProcess, protocol: 'http' | 'grpc') =>
  protocol === 'grpc' ? `grpc://127.0.0.1:${grpcPortOf(runtime)}` : runtime.url;

for (const protocol of ['http', 'grpc'] as const)
  test(
    `SIGTERM to one of three runtimes under load, the pool on ${protocol}://: no failed request, it drains and exits 0, the others serve`,
    {
      timeout: 60_000,
    },
    async () => {
      const runtimes: StartedProcess[] = [];
      const others: StartedProcess[] = [];
      let gateway: StartedProcess | undefined;
      let load: LoadRun | undefined;
      const client = createClient(4);
      const exitCodes: (number | string)[] = [];
      try {
        runtimes.push(
          ...(await Promise.all(
            [0, 1, 2].map(() =>
              startRuntime({ args: ['--drain-delay-ms', String(DRAIN_DELAY_MS)], grpc: protocol === 'grpc' }),
            ),
          )),
        );
        const [victim, ...rest] = runtimes as [StartedProcess, StartedProcess, StartedProcess];
        others.push(...rest);
        gateway = await startGateway(
          fraudGatewayConfig(
            runtimes.map((r) => endpointOf(r, protocol)),
            { weights: [50, 50] },
          ),
        );
        const gatewayUrl = gateway.url;

        load = startDecisionLoad(gatewayUrl, {
          workers: 8,
          ratePerSecond: 300,
          maxRequests: 2000,
          maxMs: 5000,
        });
        await sleep(1500);

        const signalledAt = performance.now();
        const victimCode = await victim.stop('SIGTERM');
        const exitedAt = performance.now();
        exitCodes.push(victimCode);
        assert.equal(victimCode, 0, 'the runtime finishes what it holds and exits 0');
        assert.ok(
          exitedAt - signalledAt >= DRAIN_DELAY_MS - 50,
          `exited ${Math.round(exitedAt - signalledAt)} ms after SIGTERM, before its drain delay`,
        );

        const upstreams = await getJson(client, `${gatewayUrl}/admin/upstreams`, AUTH);
        assert.equal(upstreams.status, 200, upstreams.text);
        const status = (upstreams.body as { onnx: EndpointStatus[] }).onnx.find(
          (e) => e.url === endpointOf(victim, protocol),
        );
        assert.ok(status, `${endpointOf(victim, protocol)} missing from ${upstreams.text}`);
        assert.ok(
          status.draining || status.health === 'unhealthy',
          `a terminated runtime must be out of rotation: ${JSON.stringify(status)}`,
        );
        assert.ok(
          status.drainReasons.includes('not-ready'),
          `the ready 503 must have drained it: ${JSON.stringify(status)}`,
        );

        const report = await load.finished;
        const summary = describeLoad(report);
        console.log(
          `# runtime-sigterm (${protocol}): ${summary}; runtime exited ${Math.round(exitedAt - signalledAt)} ms after SIGTERM`,
        );
        assert.equal(report.failures.length, 0, `every request must succeed: ${summary}`);
        assert.equal(report.fallbacks.length, 0, `the model answered every request, no fallback: ${summary}`);

        const afterExit = summarize(sentBetween(report.samples, exitedAt), 0);
        assert.ok(afterExit.ok > 100, `the other two must serve the rest: ${describeLoad(afterExit)}`);

        // Each 200 to a client is exactly one 200 from one runtime: nothing lost, nothing run twice.
        const stopped = victim.logs.find((line) => line.msg === 'runtime stopped');
        assert.ok(stopped, 'no "runtime stopped" line');
        assert.equal(stopped.finished, true);
        assert.equal(stopped.accepted, stopped.answered, 'the runtime answered everything it accepted');
        let servedByOthers = 0;
        for (const other of others) {
          const metrics = await getJson(client, `${other.url}/metrics`);
          servedByOthers += metricValue(metrics.text, 'switchyard_runtime_requests_total', {
            model: 'fraud',
            outcome: 'ok',
          });
        }
        assert.ok(
          Number(stopped.answered) > 0,
          'the terminated runtime served part of the load before SIGTERM',
        );
        assert.equal(
          Number(stopped.answered) + servedByOthers,
          report.ok,
          `runtime 200s (terminated ${String(stopped.answered)}, others ${servedByOthers}) vs client 200s`,
        );
      } finally {
        await load?.stop();
        await client.close();
        const rest = [gateway, ...runtimes].filter((p): p is StartedProcess => p !== undefined);
        const codes = await Promise.all(rest.map((p) => p.stop()));
        // The terminated runtime's code was taken above; stopping it again only returns it.
        exitCodes.push(...codes);
      }
      assert.deepEqual(
        exitCodes,
        exitCodes.map(() => 0),
        'every process exits 0 on SIGTERM',
      );
    },
  );
