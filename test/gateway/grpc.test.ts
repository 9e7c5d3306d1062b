import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import type { Agent } from 'undici';
import type { ModelInferResponse } from '../../src/shared/grpc/inference.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY_SHA256,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { inferenceClient, type InferenceClient } from '../harness/grpc.js';
import { createClient, postJson } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { grpcPortOf, startRuntime } from '../harness/runtime.js';

const LIMITED_KEY = 'sk-grpc-limited';

function inferRequest(rows: number[][], raw = false) {
  const input = { name: 'features', datatype: 'FP32', shape: [rows.length, 8] };
  return raw
    ? {
        model_name: 'fraud',
        inputs: [input],
        raw_input_contents: [Buffer.from(new Float32Array(rows.flat()).buffer)],
      }
    : { model_name: 'fraud', inputs: [{ ...input, contents: { fp32_contents: rows.flat() } }] };
}

describe('gateway: the gRPC front door runs the same pipeline as REST', () => {
  let runtime: StartedProcess;
  let gateway: GatewayUnderTest;
  let grpc: InferenceClient;
  let http: Agent;

  before(async () => {
    runtime = await startRuntime();
    const config = fraudGatewayConfig([runtime.url], {
      weights: [50, 50],
      tenants: [
        { name: 'demo', keys: [{ sha256: DEMO_KEY_SHA256 }], scopes: ['infer', 'admin', 'debug'] },
        {
          name: 'limited',
          keys: [{ sha256: createHash('sha256').update(LIMITED_KEY).digest('hex') }],
          scopes: ['infer'],
          rate_limit: { rps: 0.1, burst: 2 },
        },
      ],
    });
    gateway = await startGateway(config, { args: ['--grpc-port', '0'] });
    http = createClient();
    await upstreamHealthy(http, gateway.url);
    grpc = inferenceClient(`127.0.0.1:${grpcPortOf(gateway)}`);
  });
  after(async () => {
    grpc.close();
    await http.close();
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
  });

  test('live and ready', async () => {
    assert.deepEqual((await grpc.call('ServerLive', {})).response, { live: true });
    assert.deepEqual((await grpc.call('ServerReady', {})).response, { ready: true });
  });

  test('typed and raw infer: the variant REST picks for the same user, its scores, its headers as trailers', async () => {
    const rows = fraudRows(3, 11);
    for (const user of ['u-1', 'u-2', 'u-3', 'u-4']) {
      const viaRest = await postJson(http, `${gateway.url}/v2/models/fraud/infer`, fraudRequest(rows), {
        ...AUTH,
        'x-user-id': user,
      });
      assert.equal(viaRest.status, 200);
      const scores = (viaRest.body as { outputs: { data: number[] }[] }).outputs[0]!.data;
      for (const raw of [false, true]) {
        const { response, code, trailers, error } = await grpc.call<ModelInferResponse>(
          'ModelInfer',
          inferRequest(rows, raw),
          {
            metadata: { ...AUTH, 'x-user-id': user },
          },
        );
        assert.equal(code, Status.OK, error?.details);
        assert.equal(
          trailers!.get('x-switchyard-variant')[0],
          viaRest.headers['x-switchyard-variant'],
          `${user}: same variant`,
        );
        assert.equal(response!.model_version, trailers!.get('x-switchyard-model-version')[0]);
        assert.match(String(trailers!.get('x-request-id')[0]), /\S/);
        assert.match(String(trailers!.get('server-timing')[0]), /upstream;dur=/);
        assert.deepEqual(response!.outputs[0]!.shape, [3, 1]);
        const got = raw
          ? Array.from(new Float32Array(new Uint8Array(response!.raw_output_contents[0]!).buffer))
          : response!.outputs[0]!.contents!.fp32_contents;
        assert.deepEqual(got, scores, `${user} ${raw ? 'raw' : 'typed'}`);
      }
    }
  });

  test('auth from metadata: no key and an unknown key are UNAUTHENTICATED, with the gateway code', async () => {
    const none = await grpc.call('ModelInfer', inferRequest(fraudRows(1)));
    assert.equal(none.code, Status.UNAUTHENTICATED);
    assert.equal(none.trailers!.get('x-switchyard-error-code')[0], 'SWY_ERR_AUTH_MISSING_KEY');
    const unknown = await grpc.call('ModelInfer', inferRequest(fraudRows(1)), {
      metadata: { 'x-api-key': 'sk-nope' },
    });
    assert.equal(unknown.code, Status.UNAUTHENTICATED);
    assert.equal(unknown.trailers!.get('x-switchyard-error-code')[0], 'SWY_ERR_AUTH_UNKNOWN_KEY');
  });

  test('bad input is INVALID_ARGUMENT, an unknown model NOT_FOUND; the gateway keeps serving', async () => {
    const bad = await grpc.call(
      'ModelInfer',
      {
        model_name: 'fraud',
        inputs: [
          {
            name: 'features',
            datatype: 'FP32',
            shape: [1, 7],
            contents: { fp32_contents: [1, 2, 3, 4, 5, 6, 7] },
          },
        ],
      },
      { metadata: AUTH },
    );
    assert.equal(bad.code, Status.INVALID_ARGUMENT);
    const raw = await grpc.call(
      'ModelInfer',
      {
        model_name: 'fraud',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8] }],
        raw_input_contents: [Buffer.alloc(7)],
      },
      { metadata: AUTH },
    );
    assert.equal(raw.code, Status.INVALID_ARGUMENT);
    assert.match(raw.error!.details, /raw contents of 7 bytes/);
    const unknown = await grpc.call(
      'ModelInfer',
      { ...inferRequest(fraudRows(1)), model_name: 'nope' },
      { metadata: AUTH },
    );
    assert.equal(unknown.code, Status.NOT_FOUND);
    const ok = await grpc.call('ModelInfer', inferRequest(fraudRows(1)), { metadata: AUTH });
    assert.equal(ok.code, Status.OK);
  });

  test("a tenant's rate limit is RESOURCE_EXHAUSTED with retry-after in the trailers", async () => {
    const metadata = { 'x-api-key': LIMITED_KEY };
    const results = [];
    for (let i = 0; i < 4; i++)
      results.push(await grpc.call('ModelInfer', inferRequest(fraudRows(1)), { metadata }));
    assert.deepEqual(
      results.map((r) => r.code),
      [Status.OK, Status.OK, Status.RESOURCE_EXHAUSTED, Status.RESOURCE_EXHAUSTED],
    );
    const limited = results[2]!;
    assert.equal(limited.trailers!.get('x-switchyard-error-code')[0], 'SWY_ERR_RATELIMIT_EXCEEDED');
    assert.ok(Number(limited.trailers!.get('retry-after')[0]) >= 1, 'retry-after');
  });
});
