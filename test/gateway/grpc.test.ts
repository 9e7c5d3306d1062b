import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import type { Agent } from 'undici';
import type {
  ModelInferResponse,
  ModelMetadataResponse,
  ServerMetadataResponse,
} from '../../src/shared/grpc/inference.js';
import { decodeStatusDetails, STATUS_DETAILS_TRAILER } from '../../src/shared/grpc/status.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY_SHA256,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import {
  callWithBytes,
  fraudInferMessage,
  fraudScoresOf,
  inferenceClient,
  type GrpcResult,
  type InferenceClient,
} from '../harness/grpc.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import { tenantWithKey } from '../harness/load.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { grpcPortOf, startRuntime } from '../harness/runtime.js';

const LIMITED_KEY = 'sk-grpc-limited';
/** Keys of the `pin` scope, of `infer` only, and of `admin` only. */
const pinner = tenantWithKey('pinner', ['infer', 'pin']);
const plain = tenantWithKey('plain', ['infer']);
const ops = tenantWithKey('ops', ['admin']);

/** A refused call: its status and the gateway's code in the trailers. */
function assertRefused(result: GrpcResult<unknown>, code: Status, errorCode: string, what = errorCode): void {
  assert.equal(result.code, code, `${what}: ${result.error?.details}`);
  assert.equal(result.trailers!.get('x-switchyard-error-code')[0], errorCode, what);
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
        pinner.tenant,
        plain.tenant,
        ops.tenant,
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

  const rest = (path: string, headers: Record<string, string> = AUTH) =>
    getJson(http, `${gateway.url}${path}`, headers);

  test('health and server metadata answer without a key, as GET /v2/health/* and GET /v2', async () => {
    assert.deepEqual((await grpc.call('ServerLive', {})).response, { live: true });
    const ready = await grpc.call('ServerReady', {});
    assert.deepEqual(ready.response, (await rest('/v2/health/ready', {})).body);
    assert.deepEqual(ready.response, { ready: true });
    const metadata = await grpc.call<ServerMetadataResponse>('ServerMetadata', {});
    assert.equal(metadata.code, Status.OK, metadata.error?.details);
    assert.deepEqual(metadata.response, (await rest('/v2', {})).body);
    assert.equal(metadata.response!.name, 'switchyard');
  });

  test('ModelReady and ModelMetadata answer as their REST routes, with the infer scope', async () => {
    for (const version of ['', '1', '2']) {
      const path = version === '' ? '/v2/models/fraud' : `/v2/models/fraud/versions/${version}`;
      const ready = await grpc.call('ModelReady', { name: 'fraud', version }, { metadata: AUTH });
      assert.equal(ready.code, Status.OK, ready.error?.details);
      const restReady = await rest(`${path}/ready`);
      assert.equal(restReady.status, 200, restReady.text);
      assert.deepEqual(ready.response, { ready: (restReady.body as { ready: boolean }).ready }, path);

      const metadata = await grpc.call<ModelMetadataResponse>(
        'ModelMetadata',
        { name: 'fraud', version },
        { metadata: { 'x-api-key': plain.key } },
      );
      assert.equal(metadata.code, Status.OK, metadata.error?.details);
      const restMetadata = await rest(path);
      assert.equal(restMetadata.status, 200, restMetadata.text);
      // Everything the REST answer has but `parameters`, which the message has no field for.
      const { parameters, ...mapped } = restMetadata.body as ModelMetadataResponse & { parameters: object };
      assert.ok(parameters, 'REST has parameters');
      assert.deepEqual(metadata.response, mapped, path);
      assert.deepEqual(metadata.response!.versions, version === '' ? ['1', '2'] : [version]);
      assert.deepEqual(metadata.response!.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }]);
      assert.match(String(metadata.trailers!.get('x-request-id')[0]), /\S/);
    }
    for (const method of ['ModelReady', 'ModelMetadata']) {
      const fraud = { name: 'fraud', version: '' };
      assertRefused(await grpc.call(method, fraud), Status.UNAUTHENTICATED, 'SWY_ERR_AUTH_MISSING_KEY');
      assertRefused(
        await grpc.call(method, fraud, { metadata: { authorization: `Bearer ${ops.key}` } }),
        Status.PERMISSION_DENIED,
        'SWY_ERR_AUTH_FORBIDDEN',
      );
      assertRefused(
        await grpc.call(method, { name: 'nope', version: '' }, { metadata: AUTH }),
        Status.NOT_FOUND,
        'SWY_ERR_MODEL_UNKNOWN',
      );
      assertRefused(
        await grpc.call(method, { name: 'fraud', version: '9' }, { metadata: AUTH }),
        Status.NOT_FOUND,
        'SWY_ERR_MODEL_UNKNOWN_VERSION',
      );
    }
  });

  test('with its only runtime endpoint drained, ServerReady and ModelReady say false, as REST', async () => {
    const endpoint = (verb: 'drain' | 'undrain') =>
      postJson(http, `${gateway.url}/admin/upstreams/onnx/${verb}`, { endpoint: runtime.url }, AUTH);
    const drain = await endpoint('drain');
    assert.equal(drain.status, 200, drain.text);
    try {
      assert.equal((await rest('/v2/health/ready', {})).status, 503);
      assert.deepEqual((await grpc.call('ServerReady', {})).response, { ready: false });
      for (const version of ['', '2']) {
        const ready = await grpc.call('ModelReady', { name: 'fraud', version }, { metadata: AUTH });
        assert.equal(ready.code, Status.OK, ready.error?.details);
        assert.deepEqual(ready.response, { ready: false }, `version "${version}"`);
      }
      assert.deepEqual((await grpc.call('ServerLive', {})).response, { live: true });
    } finally {
      const undrain = await endpoint('undrain');
      assert.equal(undrain.status, 200, undrain.text);
    }
    await waitFor('ready again', async () => (await grpc.call('ServerReady', {})).response?.ready === true);
  });

  test('model_version pins as /versions/{v}/infer: the pin scope, PERMISSION_DENIED without, NOT_FOUND unknown', async () => {
    const rows = fraudRows(2, 23);
    for (const version of ['1', '2']) {
      const viaRest = await postJson(
        http,
        `${gateway.url}/v2/models/fraud/versions/${version}/infer`,
        fraudRequest(rows),
        { ...pinner.auth, 'x-user-id': 'u-pin' },
      );
      assert.equal(viaRest.status, 200, viaRest.text);
      const pinned = await grpc.call<ModelInferResponse>(
        'ModelInfer',
        { ...fraudInferMessage(rows), model_version: version },
        { metadata: { ...pinner.auth, 'x-user-id': 'u-pin' } },
      );
      assert.equal(pinned.code, Status.OK, pinned.error?.details);
      assert.equal(pinned.response!.model_version, version);
      assert.equal(pinned.trailers!.get('x-switchyard-variant')[0], `v${version}`);
      assert.deepEqual(
        pinned.response!.outputs[0]!.contents!.fp32_contents,
        (viaRest.body as { outputs: { data: number[] }[] }).outputs[0]!.data,
      );
    }
    const refusals = [
      {
        auth: plain.auth,
        version: '2',
        code: Status.PERMISSION_DENIED,
        error: 'SWY_ERR_ROUTE_PIN_FORBIDDEN',
      },
      { auth: pinner.auth, version: '9', code: Status.NOT_FOUND, error: 'SWY_ERR_MODEL_UNKNOWN_VERSION' },
    ];
    for (const { auth, version, code, error } of refusals) {
      const message = { ...fraudInferMessage(rows), model_version: version };
      assertRefused(await grpc.call('ModelInfer', message, { metadata: auth }), code, error);
    }
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
          fraudInferMessage(rows, raw),
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
        assert.deepEqual(fraudScoresOf(response!), scores, `${user} ${raw ? 'raw' : 'typed'}`);
      }
    }
  });

  test('auth from metadata: no key and an unknown key are UNAUTHENTICATED, with the gateway code', async () => {
    const none = await grpc.call('ModelInfer', fraudInferMessage(fraudRows(1)));
    assert.equal(none.code, Status.UNAUTHENTICATED);
    assert.equal(none.trailers!.get('x-switchyard-error-code')[0], 'SWY_ERR_AUTH_MISSING_KEY');
    const unknown = await grpc.call('ModelInfer', fraudInferMessage(fraudRows(1)), {
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
      { ...fraudInferMessage(fraudRows(1)), model_name: 'nope' },
      { metadata: AUTH },
    );
    assert.equal(unknown.code, Status.NOT_FOUND);
    const ok = await grpc.call('ModelInfer', fraudInferMessage(fraudRows(1)), { metadata: AUTH });
    assert.equal(ok.code, Status.OK);
  });

  test('a message over limits.body_bytes is RESOURCE_EXHAUSTED before it is decoded; the gateway keeps serving', async () => {
    // The default limit, 32 MiB: grpc-js refuses a larger message from its length prefix.
    const big = Buffer.alloc(32 * 1024 * 1024 + 1024);
    const result = await grpc.call(
      'ModelInfer',
      {
        model_name: 'fraud',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [big.length / 32, 8] }],
        raw_input_contents: [big],
      },
      { metadata: AUTH },
    );
    assert.equal(result.code, Status.RESOURCE_EXHAUSTED);
    assert.match(result.error!.details, /larger than max/i);
    // Under the limit but over grpc-js's own default (4 MiB): taken and decoded, then refused for
    // its rows (more than the model's max_batch_size), not for its size.
    const under = Buffer.alloc(8 * 1024 * 1024);
    const decoded = await grpc.call(
      'ModelInfer',
      {
        model_name: 'fraud',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [under.length / 32, 8] }],
        raw_input_contents: [under],
      },
      { metadata: AUTH },
    );
    assert.equal(decoded.code, Status.INVALID_ARGUMENT, decoded.error?.details);
    const ok = await grpc.call('ModelInfer', fraudInferMessage(fraudRows(1)), { metadata: AUTH });
    assert.equal(ok.code, Status.OK);
  });

  test('a message that does not convert is INVALID_ARGUMENT, logged and recorded as a REST refusal; the gateway keeps serving', async () => {
    const features = { name: 'features', datatype: 'FP32', shape: [1, 8] };
    const eight = new Float32Array(fraudRows(1)[0]!);
    const refused = {
      mixed: {
        request: {
          model_name: 'fraud',
          inputs: [{ ...features, contents: { fp32_contents: Array.from(eight) } }],
          raw_input_contents: [Buffer.from(eight.buffer)],
        },
        message: /inputs\[0\]\.contents: given beside raw_input_contents/,
      },
      // Whole FP32 values, but nine of them for a shape of eight.
      rawLength: {
        request: {
          model_name: 'fraud',
          inputs: [features],
          raw_input_contents: [Buffer.alloc(36)],
        },
        message: /raw contents of 36 bytes; shape \[1, 8\] of FP32 \(4 bytes each\) takes 32/,
      },
      datatype: {
        request: {
          model_name: 'fraud',
          inputs: [{ ...features, datatype: 'FLOAT', contents: { fp32_contents: Array.from(eight) } }],
        },
        message: /inputs\[0\]\.datatype: "FLOAT" is not a datatype of the protocol/,
      },
      // The binary tensor extension describes an HTTP body; a message has raw contents instead.
      binaryParameter: {
        request: {
          ...fraudInferMessage([Array.from(eight)]),
          parameters: { binary_data_output: { bool_param: true } },
        },
        message: /parameters\.binary_data_output: the binary tensor extension is HTTP's/,
      },
    };
    for (const [name, { request, message }] of Object.entries(refused)) {
      const result = await grpc.call('ModelInfer', request, {
        metadata: { ...AUTH, 'x-request-id': `grpc-refused-${name}` },
      });
      assertRefused(result, Status.INVALID_ARGUMENT, 'SWY_ERR_INPUT_INVALID', name);
      assert.match(result.error!.details, message, name);
      assert.equal(result.trailers!.get('x-request-id')[0], `grpc-refused-${name}`);
    }
    // Bytes that are not a ModelInferRequest (field 5 claiming more bytes than follow): nothing of
    // it can be read, not even the model's name.
    const { error } = await callWithBytes(
      grpc,
      '/inference.GRPCInferenceService/ModelInfer',
      Buffer.from([0x2a, 0x7f, 0x01]),
      { ...AUTH, 'x-request-id': 'grpc-refused-undecodable' },
    );
    assert.equal(error?.code, Status.INVALID_ARGUMENT);
    assert.match(error.details, /not a valid protobuf message of its type/);
    assert.equal(error.metadata.get('x-switchyard-error-code')[0], 'SWY_ERR_INPUT_INVALID');

    // The request handler's path for a body refused before its pipeline: one log line, one record.
    for (const name of [...Object.keys(refused), 'undecodable']) {
      const id = `grpc-refused-${name}`;
      const model = name === 'undecodable' ? '' : 'fraud';
      const line = await waitFor(`${name}: its log line`, () =>
        gateway.logs.find((l) => l.msg === 'request' && l.request_id === id),
      );
      assert.deepEqual(
        [line.model, line.endpoint, line.status, line.code],
        [model, 'infer', 400, 'SWY_ERR_INPUT_INVALID'],
      );
      const record = await waitFor(`${name}: its record`, async () => {
        const text = await readFile(join(gateway.dir, 'predictions.jsonl'), 'utf8').catch(() => '');
        return text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((r) => r.request_id === id);
      });
      assert.deepEqual(
        [record.model, record.endpoint, record.status, record.code],
        [model, 'infer', 400, 'SWY_ERR_INPUT_INVALID'],
      );
    }
    // An HTTP body's header in the metadata describes nothing: the message is read as it is.
    const ok = await grpc.call('ModelInfer', fraudInferMessage(fraudRows(1)), {
      metadata: { ...AUTH, 'inference-header-content-length': '5' },
    });
    assert.equal(ok.code, Status.OK, ok.error?.details);
  });

  test("a tenant's rate limit is RESOURCE_EXHAUSTED with retry-after and a google.rpc.RetryInfo in the trailers", async () => {
    const metadata = { 'x-api-key': LIMITED_KEY };
    const results = [];
    for (let i = 0; i < 4; i++)
      results.push(await grpc.call('ModelInfer', fraudInferMessage(fraudRows(1)), { metadata }));
    assert.deepEqual(
      results.map((r) => r.code),
      [Status.OK, Status.OK, Status.RESOURCE_EXHAUSTED, Status.RESOURCE_EXHAUSTED],
    );
    const limited = results[2]!;
    assert.equal(limited.trailers!.get('x-switchyard-error-code')[0], 'SWY_ERR_RATELIMIT_EXCEEDED');
    const retryAfterS = Number(limited.trailers!.get('retry-after')[0]);
    assert.ok(retryAfterS >= 1, 'retry-after');
    // Google's rich error model: a google.rpc.Status of the call's code and message, with a
    // google.rpc.RetryInfo of the rate limiter's wait.
    const details = limited.trailers!.get(STATUS_DETAILS_TRAILER)[0];
    assert.ok(Buffer.isBuffer(details), 'grpc-status-details-bin');
    const { status, retryDelayMs } = decodeStatusDetails(details);
    assert.equal(status.code, Status.RESOURCE_EXHAUSTED);
    assert.equal(status.message, limited.error!.details);
    assert.equal(retryDelayMs, retryAfterS * 1000);
  });
});
