import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Agent } from 'undici';
import { encodeRequest, encodeValues, postBinary, type BinaryInput } from '../harness/binary-tensors.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, getJson, metricValue, postJson } from '../harness/http.js';
import { TYPES_MODEL_DATATYPES, writeTypesModel } from '../harness/models.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { copyRepository, startRuntime } from '../harness/runtime.js';
import { readJsonl } from '../telemetry/prediction-log-harness.js';

/**
 * The gateway's binary tensor data extension (triton-inference-server/server
 * docs/protocol/extension_binary_data.md) in front of a real runtime: `types` echoes one [N, 2]
 * tensor of each datatype (its answers cached and served from the cache, so the key must see the
 * bytes), `fraud` scores FP32 rows with a shadow and its inputs in the prediction log.
 */
describe('gateway: binary tensor data extension', () => {
  let runtime: StartedProcess;
  let gateway: GatewayUnderTest;
  let client: Agent;
  let repository: Awaited<ReturnType<typeof copyRepository>>;
  let logPath: string;

  before(async () => {
    repository = await copyRepository(['fraud']);
    await writeTypesModel(repository.dir);
    runtime = await startRuntime({ repository: repository.dir });
    const config = fraudGatewayConfig([runtime.url], {
      weights: [100, 0],
      model: {
        log_inputs: true,
        shadows: [{ name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', percent: 100 }],
      },
    });
    gateway = await startGateway({
      ...config,
      models: {
        ...config.models,
        types: {
          budget_ms: 2000,
          routing: { key: 'header:x-user-id', salt: 'types' },
          variants: [{ name: 'v1', upstream: 'onnx', model: 'types', version: '1', weight: 100 }],
          cache: { ttl_ms: 60000, serve_hits: true },
        },
      },
    });
    logPath = join(gateway.dir, 'predictions.jsonl');
    client = createClient();
    await upstreamHealthy(client, gateway.url);
  });
  after(async () => {
    await client.close();
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
    await repository.remove();
  });

  const typesUrl = () => `${gateway.url}/v2/models/types/infer`;
  const fraudUrl = () => `${gateway.url}/v2/models/fraud/infer`;
  const headers = { ...AUTH, 'x-user-id': 'u-binary' };

  // INT64 within 2^53: the gateway reads the runtime's answer as JSON (README says why).
  const VALUES: Record<(typeof TYPES_MODEL_DATATYPES)[number], BinaryInput['values']> = {
    FP32: [1.5, -0.25, 3.4028234663852886e38, 1e-45],
    FP64: [Math.PI, -1e300, 5e-324, 0],
    INT32: [-2147483648, 2147483647, 0, -7],
    INT64: [-(2n ** 53n) + 1n, 2n ** 53n - 1n, 12n, -3n],
    BOOL: [true, false, false, true],
  };
  const typesInputs = (values = VALUES, json: (d: string) => boolean = () => false): BinaryInput[] =>
    TYPES_MODEL_DATATYPES.map((datatype) => ({
      name: `in_${datatype.toLowerCase()}`,
      datatype,
      shape: [2, 2],
      values: values[datatype],
      json: json(datatype),
    }));
  const expected = (datatype: (typeof TYPES_MODEL_DATATYPES)[number], values = VALUES) =>
    datatype === 'FP32' ? (values.FP32 as number[]).map((v) => Math.fround(v)) : [...values[datatype]];

  test('binary in, binary out, every datatype, on the fast path and the Fastify route', async () => {
    for (const url of [typesUrl(), `${typesUrl()}?form=fastify`]) {
      const encoded = encodeRequest(typesInputs(), { id: 'b-1', parameters: { binary_data_output: true } });
      const response = await postBinary(client, url, encoded, headers);
      assert.equal(response.status, 200, response.raw.toString());
      assert.equal(response.headers['content-type'], 'application/octet-stream');
      assert.ok(Number(response.headers['inference-header-content-length']) > 0);
      assert.equal(response.json.id, 'b-1');
      assert.equal(response.json.model_name, 'types');
      for (const datatype of TYPES_MODEL_DATATYPES) {
        const output = response.json.outputs!.find((o) => o.name === `out_${datatype.toLowerCase()}`)!;
        assert.equal(output.data, undefined);
        assert.equal(output.parameters?.binary_data_size, encodeValues(datatype, VALUES[datatype]).length);
        assert.deepEqual(output.values, expected(datatype), `${url} ${datatype}`);
      }
    }
  });

  test('mixed JSON and binary inputs, outputs binary or JSON as each asks', async () => {
    const encoded = encodeRequest(
      typesInputs(VALUES, (d) => d === 'INT32' || d === 'BOOL'),
      {
        parameters: { binary_data_output: true },
        outputs: [{ name: 'out_int32', parameters: { binary_data: false } }, { name: 'out_fp64' }],
      },
    );
    const response = await postBinary(client, typesUrl(), encoded, headers);
    assert.equal(response.status, 200, response.raw.toString());
    const [int32, fp64] = response.json.outputs!;
    assert.deepEqual(int32!.data, VALUES.INT32);
    assert.equal(int32!.parameters, undefined);
    assert.equal(fp64!.parameters?.binary_data_size, 32);
    assert.deepEqual(fp64!.values, VALUES.FP64);
  });

  test('binary in, JSON out: a JSON client of the answer; the cache tells apart inputs that differ only in their bytes', async () => {
    const other = { ...VALUES, FP64: [1, 2, 3, 4], INT32: [9, 8, 7, 6] };
    for (const values of [VALUES, other, VALUES]) {
      const response = await postBinary(client, typesUrl(), encodeRequest(typesInputs(values)), headers);
      assert.equal(response.status, 200, response.raw.toString());
      assert.match(String(response.headers['content-type']), /^application\/json/);
      const outputs = response.json.outputs!;
      assert.deepEqual(outputs.find((o) => o.name === 'out_fp64')!.data, values.FP64);
      assert.deepEqual(outputs.find((o) => o.name === 'out_int32')!.data, values.INT32);
    }
  });

  test('JSON in, binary out', async () => {
    const rows = fraudRows(2);
    const json = await postJson(client, fraudUrl(), fraudRequest(rows), headers);
    assert.equal(json.status, 200, json.text);
    const scores = (json.body as { outputs: { data: number[] }[] }).outputs[0]!.data;
    const response = await postBinary(
      client,
      fraudUrl(),
      {
        body: Buffer.from(
          JSON.stringify({ ...fraudRequest(rows), parameters: { binary_data_output: true } }),
        ),
      },
      headers,
    );
    assert.equal(response.status, 200, response.raw.toString());
    assert.deepEqual(response.json.outputs![0]!.values, scores);
  });

  test('a binary request is recorded with its inputs decoded, and mirrored to the shadow', async () => {
    const rows = fraudRows(3, 41);
    const encoded = encodeRequest([
      { name: 'features', datatype: 'FP32', shape: [3, 8], values: rows.flat() },
    ]);
    const response = await postBinary(client, fraudUrl(), encoded, {
      ...headers,
      'x-request-id': 'bin-log-1',
    });
    assert.equal(response.status, 200, response.raw.toString());
    assert.equal(response.json.outputs![0]!.data!.length, 3);
    const record = await waitFor("the binary request's record", async () =>
      // The shadow's record carries the same request id and may be written first.
      (await readJsonl(logPath)).find((r) => r.request_id === 'bin-log-1' && r.kind === 'prediction'),
    );
    assert.equal(record.status, 200);
    assert.equal(record.endpoint, 'infer');
    assert.match(String(record.input_hash), /^[0-9a-f]{64}$/);
    const inputs = record.inputs as { name: string; shape: number[]; data: number[] }[];
    assert.deepEqual(inputs[0]!.shape, [3, 8]);
    assert.deepEqual(
      inputs[0]!.data,
      rows.flat().map((v) => Math.fround(v)),
    );
    await waitFor('the shadow compared the binary request', async () => {
      const metrics = (await getJson(client, `${gateway.url}/metrics`)).text;
      return metricValue(metrics, 'switchyard_shadow_requests_total', { model: 'fraud', outcome: 'ok' }) > 0;
    });
  });

  describe('refused with 400 and a code, the gateway still serving', () => {
    const fraud = (overrides: Partial<BinaryInput> = {}) =>
      encodeRequest([
        { name: 'features', datatype: 'FP32', shape: [1, 8], values: fraudRows(1)[0]!, ...overrides },
      ]);
    const cases: [string, () => { body: Buffer; headerLength?: number }, string, RegExp][] = [
      [
        'binary_data_size not what the shape needs',
        () => fraud({ statedSize: 36 }),
        'SWY_ERR_HTTP_MALFORMED_BINARY',
        /36 bytes, but shape \[1, 8\] of FP32 needs 32/,
      ],
      [
        'header length beyond the body',
        () => ({ ...fraud(), headerLength: fraud().body.length + 5 }),
        'SWY_ERR_HTTP_MALFORMED_BINARY',
        /Inference-Header-Content-Length/,
      ],
      [
        'sizes not adding up to the bytes after the JSON',
        () => {
          const encoded = fraud();
          return { body: Buffer.concat([encoded.body, Buffer.alloc(8)]), headerLength: encoded.headerLength };
        },
        'SWY_ERR_HTTP_MALFORMED_BINARY',
        /8 bytes after the JSON/,
      ],
      [
        'a shape the model does not take',
        () => fraud({ shape: [1, 4], values: [1, 2, 3, 4] }),
        'SWY_ERR_INPUT_INVALID',
        /does not fit the model's \[N, 8\]/,
      ],
      [
        'binary_data_size without the header',
        () => ({ body: fraud().body.subarray(0, fraud().headerLength) }),
        'SWY_ERR_INPUT_INVALID',
        /no Inference-Header-Content-Length/,
      ],
    ];
    for (const [what, body, code, message] of cases) {
      test(what, async () => {
        const response = await postBinary(client, fraudUrl(), body(), headers);
        assert.equal(response.status, 400, response.raw.toString());
        const error = response.json as unknown as {
          error: { code?: string; message?: string } | string;
          code?: string;
        };
        const text = JSON.stringify(error);
        assert.ok(text.includes(code), text);
        assert.match(text, message);
      });
    }

    test('a BOOL byte that is neither 0 nor 1', async () => {
      const encoded = encodeRequest(typesInputs());
      encoded.body[encoded.body.length - 4] = 7;
      const response = await postBinary(client, typesUrl(), encoded, headers);
      assert.equal(response.status, 400);
      assert.match(JSON.stringify(response.json), /byte 7 is not a BOOL/);
    });

    test('after all of them, binary requests are served and the breaker stayed closed', async () => {
      const response = await postBinary(client, fraudUrl(), fraud(), headers);
      assert.equal(response.status, 200);
      assert.equal(response.headers['x-switchyard-fallback'], undefined);
    });
  });
});
