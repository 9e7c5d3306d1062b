import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent } from 'undici';
import { encodeRequest, postBinary } from '../harness/binary-tensors.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  decisionBody,
  fraudGatewayConfig,
  PATIENT_HEALTH,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import {
  createClient,
  getJson,
  metricValue,
  postJson,
  wireError,
  type JsonResponse,
} from '../harness/http.js';
import { runBounded } from '../harness/load.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import {
  breakerState,
  gatewayMetrics,
  shadowPair,
  withoutIds,
  type DecisionAnswer,
} from '../harness/resilience.js';
import { grpcPortOf, startRuntime } from '../harness/runtime.js';

/**
 * Issue 21: a pool whose endpoints are grpc:// calls its runtimes over the Open Inference
 * Protocol's gRPC (inference_grpc.md: ModelInfer, with grpc.health.v1 checks), and the gateway
 * answers as it does over REST — with real runtimes (`switchyard runtime --grpc-port 0`, the demo
 * fraud models) and real gateways, every process stopped by its handle.
 */

const grpcUrl = (runtime: StartedProcess) => `grpc://127.0.0.1:${grpcPortOf(runtime)}`;

/** Requests a runtime answered over one protocol (every outcome), from its /metrics. */
async function runtimeCalls(
  client: Agent,
  runtime: StartedProcess,
  protocol: 'http' | 'grpc',
): Promise<number> {
  const response = await getJson(client, `${runtime.url}/metrics`);
  return metricValue(response.text, 'switchyard_runtime_requests_total', { model: 'fraud', protocol });
}

const header = (response: JsonResponse, name: string): string | undefined => {
  const value = response.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * Two gateways with one config on one runtime, but for the pool's endpoint: its REST URL in one,
 * its gRPC one in the other; waited for until each has its endpoint in rotation.
 */
async function restAndGrpcGateways(
  runtime: StartedProcess,
  client: Agent,
  config: (endpoint: string) => object,
): Promise<{ viaRest: GatewayUnderTest; viaGrpc: GatewayUnderTest }> {
  const viaRest = await startGateway(config(runtime.url));
  const viaGrpc = await startGateway(config(grpcUrl(runtime)));
  await upstreamHealthy(client, viaRest.url);
  await upstreamHealthy(client, viaGrpc.url);
  return { viaRest, viaGrpc };
}

async function stopAll(gateways: GatewayUnderTest[], runtimes: StartedProcess[]): Promise<void> {
  for (const gateway of gateways) assert.equal(await gateway.stop(), 0);
  for (const runtime of runtimes) await runtime.stop();
}

describe('gateway: a grpc:// pool answers as an http:// pool does', () => {
  let runtime: StartedProcess;
  let viaRest: GatewayUnderTest;
  let viaGrpc: GatewayUnderTest;
  let client: Agent;

  before(async () => {
    runtime = await startRuntime({ grpc: true });
    client = createClient(8);
    ({ viaRest, viaGrpc } = await restAndGrpcGateways(runtime, client, (endpoint) =>
      fraudGatewayConfig([endpoint], { weights: [50, 50] }),
    ));
  });
  after(async () => {
    await client.close();
    await stopAll([viaRest, viaGrpc], [runtime]);
  });

  test('decisions, OIP infer (JSON and binary inputs) and model metadata: the same answers, sent over gRPC', async () => {
    const rows = fraudRows(12, 21);
    const grpcBefore = await runtimeCalls(client, runtime, 'grpc');
    let sent = 0;
    for (let i = 0; i < rows.length; i++) {
      const user = `u-same-${i}`;
      const [rest, grpc] = await Promise.all(
        [viaRest, viaGrpc].map((g) =>
          postJson(client, `${g.url}/v1/decisions/fraud`, decisionBody(rows[i]!, user), AUTH),
        ),
      );
      assert.equal(rest!.status, 200, rest!.text);
      assert.equal(grpc!.status, 200, grpc!.text);
      assert.deepEqual(withoutIds(grpc!.body as DecisionAnswer), withoutIds(rest!.body as DecisionAnswer));
      assert.equal(header(grpc!, 'x-switchyard-variant'), header(rest!, 'x-switchyard-variant'));
      sent += 1;
    }
    // Several rows in one OIP request, with an id, for both variants (pinned by user).
    for (const user of ['u-oip-1', 'u-oip-2', 'u-oip-3']) {
      const body = fraudRequest(rows.slice(0, 5), `req-${user}`);
      const [rest, grpc] = await Promise.all(
        [viaRest, viaGrpc].map((g) =>
          postJson(client, `${g.url}/v2/models/fraud/infer`, body, { ...AUTH, 'x-user-id': user }),
        ),
      );
      assert.equal(grpc!.status, 200, grpc!.text);
      assert.deepEqual(grpc!.body, rest!.body);
      sent += 1;
    }
    // Binary inputs (the binary tensor extension) go on as raw_input_contents.
    const encoded = encodeRequest([
      { name: 'features', datatype: 'FP32', shape: [3, 8], values: rows.slice(0, 3).flat() },
    ]);
    const [restBinary, grpcBinary] = await Promise.all(
      [viaRest, viaGrpc].map((g) =>
        postBinary(client, `${g.url}/v2/models/fraud/infer`, encoded, { ...AUTH, 'x-user-id': 'u-bin' }),
      ),
    );
    assert.equal(grpcBinary!.status, 200, JSON.stringify(grpcBinary!.json));
    assert.deepEqual(grpcBinary!.json, restBinary!.json);
    sent += 1;
    // Metadata the gateway fetched from the runtime, over ModelMetadata for the grpc pool.
    const [restMeta, grpcMeta] = await Promise.all(
      [viaRest, viaGrpc].map((g) => getJson(client, `${g.url}/v2/models/fraud`, AUTH)),
    );
    assert.equal(grpcMeta!.status, 200, grpcMeta!.text);
    const tensors = (body: unknown) => {
      const { inputs, outputs } = body as { inputs: unknown; outputs: unknown };
      return { inputs, outputs };
    };
    assert.deepEqual(tensors(grpcMeta!.body), tensors(restMeta!.body));

    // Every inference of the grpc gateway reached the runtime over gRPC.
    assert.equal((await runtimeCalls(client, runtime, 'grpc')) - grpcBefore, sent);
  });

  test('the pool reports its endpoint as a grpc:// URL, health-checked over grpc.health.v1', async () => {
    const pools = (await getJson(client, `${viaGrpc.url}/admin/upstreams`, AUTH)).body as Record<
      string,
      { url: string; health: string }[]
    >;
    assert.deepEqual(
      pools.onnx!.map((e) => [e.url, e.health]),
      [[grpcUrl(runtime), 'healthy']],
    );
    const metrics = await gatewayMetrics(client, viaGrpc.url);
    assert.ok(
      metricValue(metrics, 'switchyard_upstream_health_checks_total', { upstream: 'onnx', outcome: 'ok' }) >
        0,
    );
  });
});

describe('gateway: a mixed fleet', () => {
  let a: StartedProcess;
  let b: StartedProcess;
  let gateway: GatewayUnderTest;
  let client: Agent;

  before(async () => {
    [a, b] = await Promise.all([startRuntime({ grpc: true }), startRuntime({ grpc: true })]);
    const config = fraudGatewayConfig([a.url], { weights: [50, 50] });
    // v1 over REST to A; v2 on a pool that mixes gRPC to A and REST to B.
    const [v1, v2] = config.models.fraud.variants;
    gateway = await startGateway({
      ...config,
      upstreams: {
        onnx: config.upstreams.onnx,
        mixed: { ...config.upstreams.onnx, endpoints: [grpcUrl(a), b.url] },
      },
      models: { fraud: { ...config.models.fraud, variants: [v1, { ...v2, upstream: 'mixed' }] } },
    });
    client = createClient(8);
    await upstreamHealthy(client, gateway.url);
  });
  after(async () => {
    await client.close();
    await stopAll([gateway], [a, b]);
  });

  test('both variants answer, and the mixed pool spreads calls over its gRPC and REST endpoints', async () => {
    const before = {
      aHttp: await runtimeCalls(client, a, 'http'),
      aGrpc: await runtimeCalls(client, a, 'grpc'),
      bHttp: await runtimeCalls(client, b, 'http'),
    };
    const rows = fraudRows(40, 5);
    const answers = await runBounded(rows.length, 4, (i) =>
      postJson(client, `${gateway.url}/v1/decisions/fraud`, decisionBody(rows[i]!, `u-mixed-${i}`), AUTH),
    );
    assert.ok(answers.every((r) => r.status === 200 && header(r, 'x-switchyard-fallback') === undefined));
    const byVariant = (v: string) => answers.filter((r) => header(r, 'x-switchyard-variant') === v).length;
    assert.ok(byVariant('v1') > 0 && byVariant('v2') > 0, `v1 ${byVariant('v1')}, v2 ${byVariant('v2')}`);
    const calls = {
      aHttp: (await runtimeCalls(client, a, 'http')) - before.aHttp,
      aGrpc: (await runtimeCalls(client, a, 'grpc')) - before.aGrpc,
      bHttp: (await runtimeCalls(client, b, 'http')) - before.bHttp,
    };
    assert.equal(calls.aHttp, byVariant('v1'), JSON.stringify(calls));
    assert.equal(calls.aGrpc + calls.bHttp, byVariant('v2'), JSON.stringify(calls));
    assert.ok(
      calls.aGrpc > 0 && calls.bHttp > 0,
      `the mixed pool used one protocol only: ${JSON.stringify(calls)}`,
    );
  });

  test('a shadow on a grpc pool gets its copies over gRPC and compares them with the REST primary', async () => {
    const config = fraudGatewayConfig([a.url], { weights: [100, 0] });
    const mirrored = await startGateway({
      ...config,
      upstreams: {
        onnx: config.upstreams.onnx,
        shadowed: { ...config.upstreams.onnx, endpoints: [grpcUrl(b)] },
      },
      models: {
        fraud: {
          ...config.models.fraud,
          shadows: [{ name: 'v3', upstream: 'shadowed', model: 'fraud', version: '3', percent: 100 }],
        },
      },
    });
    try {
      await upstreamHealthy(client, mirrored.url);
      const grpcBefore = await runtimeCalls(client, b, 'grpc');
      const rows = fraudRows(30, 8);
      const answers = await runBounded(rows.length, 4, (i) =>
        postJson(client, `${mirrored.url}/v1/decisions/fraud`, decisionBody(rows[i]!, `u-shadow-${i}`), AUTH),
      );
      assert.ok(answers.every((r) => r.status === 200 && header(r, 'x-switchyard-variant') === 'v1'));
      const pair = await waitFor('every copy compared', async () => {
        const report = await shadowPair(client, mirrored.url, 'fraud', 'v1', 'v3');
        return report && report.compared + report.errors >= rows.length ? report : undefined;
      });
      assert.deepEqual(
        [pair.sent, pair.compared, pair.errors, pair.dropped],
        [rows.length, rows.length, 0, 0],
      );
      assert.equal((await runtimeCalls(client, b, 'grpc')) - grpcBefore, rows.length);
    } finally {
      assert.equal(await mirrored.stop(), 0);
    }
  });
});

describe("gateway: a runtime's refusal over gRPC is the caller's error, as over REST", () => {
  let runtime: StartedProcess;
  let viaRest: GatewayUnderTest;
  let viaGrpc: GatewayUnderTest;
  let client: Agent;
  const PER_KIND = 15;

  before(async () => {
    runtime = await startRuntime({ grpc: true });
    // No contract: the gateway holds OIP tensors to the model's metadata only, so what the runtime
    // alone refuses reaches it. A breaker that would open on 5 failures in 50%.
    const options = (endpoint: string) =>
      fraudGatewayConfig([endpoint], {
        weights: [100, 0],
        upstream: { health: PATIENT_HEALTH },
        model: {
          contract: undefined,
          breaker: { error_threshold_percent: 50, volume_threshold: 5, reset_ms: 30_000 },
        },
      });
    client = createClient(8);
    ({ viaRest, viaGrpc } = await restAndGrpcGateways(runtime, client, options));
  });
  after(async () => {
    await client.close();
    await stopAll([viaRest, viaGrpc], [runtime]);
  });

  const input = (data: number[]) => ({ name: 'features', datatype: 'FP32', shape: [1, 8], data });
  const BAD = [
    {
      // More rows than the model's max_batch_size. The gRPC ModelMetadata message has no
      // max_batch_size, so a gateway on a grpc pool does not know it and the runtime refuses the
      // request (INVALID_ARGUMENT); one on an http pool refuses it itself. Either way a 400.
      what: 'a batch above max_batch_size',
      body: fraudRequest(fraudRows(65, 2)),
    },
    {
      // Finite values the model overflows into NaN: the REST endpoint refuses the answer (400);
      // protobuf carries NaN, and the gateway refuses it as that endpoint would.
      what: 'inputs the model turns into NaN',
      body: { inputs: [input([-3e38, -3e38, -1e38, 3e38, 0, 0, 3e38, 1e38])] },
    },
  ];

  for (const bad of BAD) {
    test(`${bad.what}: the same status and code as over REST, and not charged to the breaker`, async () => {
      const post = (g: GatewayUnderTest) =>
        postJson(client, `${g.url}/v2/models/fraud/infer`, bad.body, AUTH);
      const rest = await post(viaRest);
      assert.equal(rest.status, 400, rest.text);
      const grpcAnswers = await runBounded(PER_KIND, 3, () => post(viaGrpc));
      for (const grpc of grpcAnswers) {
        assert.equal(grpc.status, rest.status, grpc.text);
        assert.equal(wireError(grpc.body)?.code, wireError(rest.body)?.code);
        assert.match(wireError(grpc.body)!.message, /runtime answered 400/);
      }
      const metrics = await gatewayMetrics(client, viaGrpc.url);
      assert.equal(breakerState(metrics, 'fraud', 'v1'), 0, 'the breaker stayed closed');
      assert.equal(
        metricValue(metrics, 'switchyard_upstream_ejections_total', { upstream: 'onnx' }),
        0,
        'the endpoint was not ejected',
      );
      const good = await postJson(
        client,
        `${viaGrpc.url}/v2/models/fraud/infer`,
        { inputs: [input(fraudRows(1)[0]!)] },
        AUTH,
      );
      assert.equal(good.status, 200, good.text);
    });
  }
});

describe('gateway: a grpc runtime killed, then every one: health and ejection, then the fallback', () => {
  let a: StartedProcess;
  let b: StartedProcess;
  let gateway: GatewayUnderTest;
  let client: Agent;

  before(async () => {
    [a, b] = await Promise.all([startRuntime({ grpc: true }), startRuntime({ grpc: true })]);
    gateway = await startGateway(
      fraudGatewayConfig([grpcUrl(a), grpcUrl(b)], {
        weights: [50, 50],
        model: { budget_ms: 400, fallback: [{ default: { decision: 'review' } }] },
      }),
    );
    client = createClient(8);
    await upstreamHealthy(client, gateway.url);
  });
  after(async () => {
    await client.close();
    await stopAll([gateway], []);
    await a.stop();
    await b.stop();
  });

  const decide = (i: number) =>
    postJson(
      client,
      `${gateway.url}/v1/decisions/fraud`,
      decisionBody(fraudRows(1, i)[0]!, `u-kill-${i}`),
      AUTH,
    );

  test('one killed: it leaves rotation and the other answers every request', async () => {
    await a.stop('SIGKILL');
    const endpointOf = async (url: string) => {
      const pools = (await getJson(client, `${gateway.url}/admin/upstreams`, AUTH)).body as Record<
        string,
        { url: string; health: string; ejected: boolean }[]
      >;
      return pools.onnx!.find((e) => e.url === url)!;
    };
    // Health checks (Check over the endpoint's channel) fail twice in a row at 200 ms.
    await waitFor('the killed endpoint out of rotation', async () => {
      const endpoint = await endpointOf(grpcUrl(a));
      return endpoint.health === 'unhealthy' || endpoint.ejected;
    });
    const answers = await runBounded(30, 3, decide);
    for (const answer of answers) {
      assert.equal(answer.status, 200, answer.text);
      assert.equal(header(answer, 'x-switchyard-fallback'), undefined, 'a model answered');
    }
    assert.equal((await endpointOf(grpcUrl(b))).health, 'healthy');
  });

  test('every one killed: the default decision, within the budget', async () => {
    await b.stop('SIGKILL');
    await sleep(100);
    const answers = await runBounded(20, 2, async (i) => {
      const started = performance.now();
      const answer = await decide(100 + i);
      return { answer, ms: performance.now() - started };
    });
    for (const { answer, ms } of answers) {
      assert.equal(answer.status, 200, answer.text);
      assert.match(header(answer, 'x-switchyard-fallback') ?? '', /^default; reason=/);
      assert.equal((answer.body as DecisionAnswer).decision, 'review');
      assert.ok(ms < 400 + 300, `${ms.toFixed(0)} ms`);
    }
  });
});

describe('gateway: a grpc runtime slower than the budget: the deadline, then the fallback, as over REST', () => {
  let slow: StartedProcess;
  let viaRest: GatewayUnderTest;
  let viaGrpc: GatewayUnderTest;
  let client: Agent;
  const BUDGET_MS = 200;

  before(async () => {
    slow = await startRuntime({ grpc: true, args: ['--added-latency-ms', '600'] });
    const config = (endpoint: string) =>
      fraudGatewayConfig([endpoint], {
        weights: [100, 0],
        upstream: { health: PATIENT_HEALTH },
        model: { budget_ms: BUDGET_MS, fallback: [{ default: { decision: 'review' } }] },
      });
    client = createClient(8);
    ({ viaRest, viaGrpc } = await restAndGrpcGateways(slow, client, config));
  });
  after(async () => {
    await client.close();
    await stopAll([viaRest, viaGrpc], [slow]);
  });

  test('the call times out at its gRPC deadline and the fallback answers in time', async () => {
    const row = fraudRows(1, 9)[0]!;
    for (let i = 0; i < 4; i++) {
      const started = performance.now();
      const [rest, grpc] = await Promise.all(
        [viaRest, viaGrpc].map((g) =>
          postJson(client, `${g.url}/v1/decisions/fraud`, decisionBody(row, `u-slow-${i}`), AUTH),
        ),
      );
      const ms = performance.now() - started;
      assert.equal(grpc!.status, 200, grpc!.text);
      assert.equal(header(grpc!, 'x-switchyard-fallback'), header(rest!, 'x-switchyard-fallback'));
      assert.match(header(grpc!, 'x-switchyard-fallback') ?? '', /^default; reason=/);
      assert.ok(ms < BUDGET_MS + 250, `${ms.toFixed(0)} ms for a ${BUDGET_MS} ms budget`);
    }
    const metrics = await gatewayMetrics(client, viaGrpc.url);
    assert.ok(
      metricValue(metrics, 'switchyard_upstream_attempts_total', { variant: 'v1', outcome: 'timeout' }) >= 4,
      'the attempts timed out',
    );
  });
});
