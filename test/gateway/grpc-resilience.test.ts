import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { status as Status } from '@grpc/grpc-js';
import type { ModelInferResponse } from '../../src/shared/grpc/inference.js';
import { FRAUD_EVALUATION_SEED } from '../../scripts/fraud/synthetic.js';
import { describeLoad, sentBetween, summarize, type LoadRun } from '../harness/closed-loop.js';
import { encodeRequest, postBinary } from '../harness/binary-tensors.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { AUTH, fraudGatewayConfig, startGateway, upstreamHealthy } from '../harness/gateway.js';
import { fraudInferMessage, fraudScoresOf, inferenceClient, startGrpcLoad } from '../harness/grpc.js';
import { createClient, getJson, metricValue, postJson } from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { fallbacks, gatewayMetrics, shadowPair, type ShadowPairReport } from '../harness/resilience.js';
import { grpcPortOf, startRuntime } from '../harness/runtime.js';

// The gateway's resilience as a gRPC caller sees it: the same fallback, shadow and drain
// behaviour as over REST (test/resilience/cache-fallback, shadow-agreement and
// test/gateway/runtime-sigterm), since ModelInfer runs the same pipeline.

const FALLBACK = /^cache; reason=(upstream_error|no_endpoint|circuit_open|budget_exhausted)$/;

/** A gateway with gRPC on `config`, its gRPC client and an HTTP client; `stop` ends all three. */
async function grpcGateway(config: object) {
  const gateway = await startGateway(config, { args: ['--grpc-port', '0'] });
  const http = createClient(8);
  const grpc = inferenceClient(`127.0.0.1:${grpcPortOf(gateway)}`);
  await upstreamHealthy(http, gateway.url);
  return {
    gateway,
    http,
    grpc,
    async stop(): Promise<number | string> {
      grpc.close();
      await http.close();
      return gateway.stop();
    },
  };
}

type GrpcGateway = Awaited<ReturnType<typeof grpcGateway>>;

/**
 * One runtime and a gateway with gRPC in front of it, every request on v1 (so what is cached or
 * mirrored never depends on the user), the model's `model` settings added; both stopped after
 * `scenario`, the gateway with exit code 0 (the runtime too, unless the scenario stopped it).
 */
async function withOneRuntime(
  model: object,
  scenario: (under: GrpcGateway, runtime: StartedProcess) => Promise<void>,
): Promise<void> {
  let runtime: StartedProcess | undefined;
  let under: GrpcGateway | undefined;
  try {
    runtime = await startRuntime();
    under = await grpcGateway(fraudGatewayConfig([runtime.url], { weights: [100, 0], model }));
    await scenario(under, runtime);
  } finally {
    if (under) assert.equal(await under.stop(), 0, 'the gateway exits 0 on SIGTERM');
    const running = runtime && runtime.child.exitCode === null && runtime.child.signalCode === null;
    const code = await runtime?.stop();
    if (running) assert.equal(code, 0, 'the runtime exits 0 on SIGTERM');
  }
}

test(
  'every runtime down: the cache answers a repeated input over gRPC as over REST, the fallback in the trailers',
  { timeout: 60_000 },
  () =>
    withOneRuntime(
      { cache: { ttl_ms: 60_000 }, fallback: ['cache'] },
      async ({ gateway, grpc, http }, runtime) => {
        const rows = fraudRows(3, 4545);
        const metadata = { ...AUTH, 'x-user-id': 'u-grpc-cache' };

        const live = await grpc.call<ModelInferResponse>('ModelInfer', fraudInferMessage(rows), { metadata });
        assert.equal(live.code, Status.OK, live.error?.details);
        assert.deepEqual(live.trailers!.get('x-switchyard-fallback'), [], 'the model answered');
        const scores = fraudScoresOf(live.response!);

        assert.equal(await runtime.stop('SIGKILL'), 'SIGKILL');

        // A gRPC call reaches the pipeline as a binary tensor request (src/grpc/infer-body.ts), so
        // it shares its cache key with the same bytes sent as REST binary tensors.
        const url = `${gateway.url}/v2/models/fraud/infer`;
        const features = { name: 'features', datatype: 'FP32' as const, shape: [3, 8] };
        const viaRest = await postBinary(
          http,
          url,
          encodeRequest([{ ...features, values: rows.flat() }]),
          metadata,
        );
        assert.equal(viaRest.status, 200, viaRest.raw.toString());
        assert.match(String(viaRest.headers['x-switchyard-fallback']), FALLBACK);
        assert.deepEqual(viaRest.json.outputs![0]!.values, scores, 'REST binary: the answer the model gave');
        // The same values as JSON are another key (README, "Binary tensors"): nothing cached.
        const asJson = await postJson(http, url, fraudRequest(rows), metadata);
        assert.ok([502, 503].includes(asJson.status), `${asJson.status}: ${asJson.text}`);
        assert.equal(asJson.headers['x-switchyard-fallback'], undefined);
        for (const raw of [false, true]) {
          const cached = await grpc.call<ModelInferResponse>('ModelInfer', fraudInferMessage(rows, raw), {
            metadata,
          });
          assert.equal(cached.code, Status.OK, cached.error?.details);
          assert.match(String(cached.trailers!.get('x-switchyard-fallback')[0]), FALLBACK);
          assert.deepEqual(fraudScoresOf(cached.response!), scores, `gRPC ${raw ? 'raw' : 'typed'}`);
          assert.equal(cached.response!.model_version, '1');
        }
        // A new input has nothing cached: the runtime's failure, as a gRPC status.
        const fresh = await grpc.call('ModelInfer', fraudInferMessage(fraudRows(1, 4646)), { metadata });
        assert.equal(fresh.code, Status.UNAVAILABLE, fresh.error?.details);

        const metrics = await gatewayMetrics(http, gateway.url);
        assert.equal(fallbacks(metrics, { model: 'fraud', kind: 'cache' }), 3, 'one REST, two gRPC');
      },
    ),
);

test('a shadow variant gets the gRPC calls mirrored, compared as the same REST calls are', async () => {
  const N = 100;
  const shadow = {
    shadows: [{ name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', percent: 100 }],
    shadow_max_concurrency: 64,
  };
  await withOneRuntime(shadow, async ({ gateway, grpc, http }) => {
    // Rows of the evaluation set, on which v3 decides differently from v1 on about 13%.
    const rows = fraudRows(N, FRAUD_EVALUATION_SEED);
    const settled = (count: number) =>
      waitFor(`${count} shadow copies settled`, async () => {
        const pair = await shadowPair(http, gateway.url, 'fraud', 'v1', 'v3');
        return pair && pair.compared + pair.errors + pair.dropped >= count ? pair : undefined;
      });

    await runBounded(N, 4, async (i) => {
      const answer = await grpc.call('ModelInfer', fraudInferMessage([rows[i]!]), {
        metadata: { ...AUTH, 'x-user-id': `u-${i}` },
      });
      assert.equal(answer.code, Status.OK, answer.error?.details);
      assert.equal(
        answer.trailers!.get('x-switchyard-variant')[0],
        'v1',
        'a shadow never answers the caller',
      );
    });
    const byGrpc: ShadowPairReport = await settled(N);
    assert.deepEqual([byGrpc.sent, byGrpc.compared, byGrpc.errors, byGrpc.dropped], [N, N, 0, 0]);
    assert.ok(byGrpc.disagreement_rate! > 0, `v1 and v3 disagree on some rows: ${JSON.stringify(byGrpc)}`);

    // The same rows over REST: the same comparisons, so the rates over both stay what gRPC's were.
    await runBounded(N, 4, async (i) => {
      const answer = await postJson(http, `${gateway.url}/v2/models/fraud/infer`, fraudRequest([rows[i]!]), {
        ...AUTH,
        'x-user-id': `u-${i}`,
      });
      assert.equal(answer.status, 200, answer.text);
    });
    const both = await settled(2 * N);
    assert.deepEqual([both.sent, both.compared], [2 * N, 2 * N]);
    assert.equal(both.disagreement_rate, byGrpc.disagreement_rate);
    assert.ok(
      Math.abs(both.mean_score_delta! - byGrpc.mean_score_delta!) < 1e-9,
      `mean score delta: gRPC ${byGrpc.mean_score_delta}, gRPC and REST ${both.mean_score_delta}`,
    );
  });
});

/** Longer than two health-check intervals (200 ms), so the gateway sees ready=503 before the listener closes. */
const DRAIN_DELAY_MS = 1500;

test(
  'SIGTERM to one of two runtimes under gRPC load through the gateway: no call lost, nothing run twice',
  { timeout: 60_000 },
  async () => {
    const runtimes: StartedProcess[] = [];
    let under: GrpcGateway | undefined;
    let load: LoadRun | undefined;
    try {
      runtimes.push(
        ...(await Promise.all(
          [0, 1].map(() => startRuntime({ args: ['--drain-delay-ms', String(DRAIN_DELAY_MS)] })),
        )),
      );
      const [victim, other] = runtimes as [StartedProcess, StartedProcess];
      under = await grpcGateway(fraudGatewayConfig([victim.url, other.url], { weights: [50, 50] }));
      const { grpc, http } = under;
      const rows = fraudRows(64);
      load = startGrpcLoad(grpc, {
        workers: 6,
        ratePerSecond: 150,
        maxRequests: 1500,
        maxMs: 5000,
        request: (i) => ({
          request: fraudInferMessage([rows[i % rows.length]!], i % 2 === 1),
          metadata: { ...AUTH, 'x-user-id': `u-${i}` },
        }),
      });
      await sleep(1500);

      const signalledAt = performance.now();
      assert.equal(await victim.stop('SIGTERM'), 0, 'the runtime finishes what it holds and exits 0');
      const exitedAt = performance.now();
      assert.ok(exitedAt - signalledAt >= DRAIN_DELAY_MS - 50, 'it served through its drain delay');

      const report = await load.finished;
      const summary = describeLoad(report);
      console.log(`# grpc runtime-sigterm: ${summary}`);
      assert.equal(report.failures.length, 0, `every call must succeed: ${summary}`);
      assert.equal(report.fallbacks.length, 0, `the model answered every call: ${summary}`);
      const afterExit = summarize(sentBetween(report.samples, exitedAt), 0);
      assert.ok(afterExit.ok > 50, `the other runtime serves the rest: ${describeLoad(afterExit)}`);

      // Each OK to a caller is exactly one 200 from one runtime: nothing lost, nothing run twice.
      const stopped = victim.logs.find((line) => line.msg === 'runtime stopped');
      assert.ok(stopped, 'no "runtime stopped" line');
      assert.equal(stopped.finished, true);
      assert.equal(stopped.accepted, stopped.answered, 'the runtime answered everything it accepted');
      assert.ok(Number(stopped.answered) > 0, 'the terminated runtime served part of the load');
      const otherMetrics = await getJson(http, `${other.url}/metrics`);
      const servedByOther = metricValue(otherMetrics.text, 'switchyard_runtime_requests_total', {
        model: 'fraud',
        outcome: 'ok',
      });
      assert.equal(Number(stopped.answered) + servedByOther, report.ok, 'runtime 200s vs caller OKs');
    } finally {
      await load?.stop();
      const codes = await Promise.all([under?.stop(), ...runtimes.map((r) => r.stop())]);
      assert.deepEqual(codes, [0, ...runtimes.map(() => 0)], 'every process exits 0 on SIGTERM');
    }
  },
);
