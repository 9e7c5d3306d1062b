import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import type { Agent } from 'undici';
import type { ModelInferResponse } from '../../src/shared/grpc/inference.js';
import { encodeRequest, encodeValues, postBinary, type BinaryInput } from '../harness/binary-tensors.js';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { inferenceClient, type InferenceClient } from '../harness/grpc.js';
import { createClient, postJson } from '../harness/http.js';
import { TYPES_MODEL_DATATYPES, writeTypesModel } from '../harness/models.js';
import { waitFor, type StartedProcess } from '../harness/process.js';
import { copyRepository, grpcPortOf, startRuntime } from '../harness/runtime.js';
import { readJsonl } from '../telemetry/prediction-log-harness.js';

/**
 * The gRPC front door hands the pipeline a REST binary tensor request (src/grpc/infer-body.ts):
 * its tensors stay bytes to the runtime, and its answers are REST's, value for value and byte for
 * byte, on fraud (8 features, a contract with ranges), textdir (a 1×3×48×192 image) and `types`
 * (an echo of one tensor of each of five datatypes).
 */

type Datatype = BinaryInput['datatype'];

interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  values: readonly (number | boolean | bigint)[];
}

const FIELD: Record<Datatype, string> = {
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  BOOL: 'bool_contents',
};

const asJson = (values: Tensor['values']) => values.map((v) => (typeof v === 'bigint' ? Number(v) : v));

/** A ModelInferRequest of `tensors`, typed or raw. */
function grpcMessage(model: string, tensors: readonly Tensor[], raw: boolean) {
  const inputs = tensors.map(({ name, datatype, shape, values }) => ({
    name,
    datatype,
    shape,
    ...(raw ? {} : { contents: { [FIELD[datatype]]: asJson(values) } }),
  }));
  return {
    model_name: model,
    inputs,
    ...(raw
      ? {
          raw_input_contents: tensors.map((t) => encodeValues(t.datatype, t.values as BinaryInput['values'])),
        }
      : {}),
  };
}

/** Every output as its datatype's bytes and as JSON values, from whichever form an answer took. */
interface Outputs {
  names: string[];
  shapes: number[][];
  values: unknown[][];
  bytes: Buffer[];
}

function grpcOutputs(response: ModelInferResponse, raw: boolean): Outputs {
  const { outputs } = response;
  const bytes = raw
    ? response.raw_output_contents.map((b) => Buffer.from(b))
    : outputs.map((o) => {
        const values = Object.values(o.contents ?? {}).find((v) => Array.isArray(v) && v.length > 0) ?? [];
        return encodeValues(o.datatype as Datatype, values as BinaryInput['values']);
      });
  return {
    names: outputs.map((o) => o.name),
    shapes: outputs.map((o) => o.shape),
    values: raw ? [] : outputs.map((o) => Object.values(o.contents ?? {}).find((v) => v.length > 0) ?? []),
    bytes,
  };
}

describe('gateway: gRPC ModelInfer as a binary tensor request', () => {
  let repository: Awaited<ReturnType<typeof copyRepository>>;
  let runtime: StartedProcess;
  let gateway: GatewayUnderTest;
  let http: Agent;
  let grpc: InferenceClient;

  before(async () => {
    repository = await copyRepository(['fraud', 'textdir']);
    await writeTypesModel(repository.dir);
    runtime = await startRuntime({ repository: repository.dir });
    const config = fraudGatewayConfig([runtime.url], { weights: [100, 0], model: { log_inputs: true } });
    const single = (model: string) => ({
      budget_ms: 20_000,
      routing: { key: 'header:x-user-id', salt: model },
      variants: [{ name: 'v1', upstream: 'onnx', model, version: '1', weight: 100 }],
    });
    gateway = await startGateway(
      { ...config, models: { ...config.models, textdir: single('textdir'), types: single('types') } },
      { args: ['--grpc-port', '0'] },
    );
    http = createClient();
    await upstreamHealthy(http, gateway.url);
    grpc = inferenceClient(`127.0.0.1:${grpcPortOf(gateway)}`);
  });
  after(async () => {
    grpc.close();
    await http.close();
    assert.equal(await gateway.stop(), 0);
    assert.equal(await runtime.stop(), 0);
    await repository.remove();
  });

  const url = (model: string) => `${gateway.url}/v2/models/${model}/infer`;

  /** The same tensors sent four ways; each answer's outputs, and the request ids used. */
  async function fourWays(model: string, tensors: readonly Tensor[], id: string) {
    const headers = (form: string) => ({
      ...AUTH,
      'x-user-id': 'u-grpc-binary',
      'x-request-id': `${id}-${form}`,
    });
    const json = await postJson(
      http,
      url(model),
      {
        inputs: tensors.map((t) => ({
          name: t.name,
          datatype: t.datatype,
          shape: t.shape,
          data: asJson(t.values),
        })),
      },
      headers('rest-json'),
    );
    assert.equal(json.status, 200, json.text);
    const jsonOutputs = (
      json.body as { outputs: { name: string; datatype: Datatype; shape: number[]; data: unknown[] }[] }
    ).outputs;
    const binary = await postBinary(
      http,
      url(model),
      encodeRequest(
        tensors.map((t) => ({ ...t, values: t.values as BinaryInput['values'] })),
        { parameters: { binary_data_output: true } },
      ),
      headers('rest-binary'),
    );
    assert.equal(binary.status, 200, binary.raw.toString());
    const binaryOutputs = binary.json.outputs!;
    const rest: Outputs = {
      names: jsonOutputs.map((o) => o.name),
      shapes: jsonOutputs.map((o) => o.shape),
      values: jsonOutputs.map((o) => o.data.flat(Infinity)),
      bytes: jsonOutputs.map((o) => encodeValues(o.datatype, o.data.flat(Infinity) as BinaryInput['values'])),
    };
    assert.deepEqual(
      binaryOutputs.map((o) => encodeValues(o.datatype as Datatype, o.values as BinaryInput['values'])),
      rest.bytes,
      `${model}: REST binary and REST JSON agree`,
    );
    const grpcAnswers: Record<'typed' | 'raw', Outputs> = { typed: rest, raw: rest };
    for (const form of ['typed', 'raw'] as const) {
      const raw = form === 'raw';
      const call = await grpc.call<ModelInferResponse>('ModelInfer', grpcMessage(model, tensors, raw), {
        metadata: headers(`grpc-${form}`),
      });
      assert.equal(call.code, Status.OK, `${model} ${form}: ${call.error?.details}`);
      assert.equal(call.response!.model_version, (json.body as { model_version: string }).model_version);
      assert.equal(call.trailers!.get('inference-header-content-length').length, 0, 'no HTTP body header');
      // A raw request gets raw outputs only, a typed one typed outputs only.
      const { outputs, raw_output_contents: rawOutputs } = call.response!;
      assert.equal(rawOutputs.length, raw ? outputs.length : 0, `${model} ${form}: raw outputs`);
      assert.equal(
        outputs.filter((o) => o.contents).length,
        raw ? 0 : outputs.length,
        `${model} ${form}: contents`,
      );
      grpcAnswers[form] = grpcOutputs(call.response!, raw);
    }
    return { rest, ...grpcAnswers };
  }

  test('fraud and textdir: typed answers are REST JSON values, raw answers its bytes', async () => {
    const image = Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.fround(Math.sin(i * 0.37)));
    const cases: [string, Tensor[]][] = [
      [
        'fraud',
        [
          {
            name: 'features',
            datatype: 'FP32',
            shape: [3, 8],
            values: fraudRows(3, 77).flat().map(Math.fround),
          },
        ],
      ],
      ['textdir', [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], values: image }]],
    ];
    for (const [model, tensors] of cases) {
      const { rest, typed, raw } = await fourWays(model, tensors, `grpcbin-${model}`);
      assert.ok(rest.values[0]!.length > 0, `${model} answered values`);
      for (const [form, answer] of Object.entries({ typed, raw })) {
        assert.deepEqual(answer.names, rest.names, `${model} ${form}`);
        assert.deepEqual(answer.shapes, rest.shapes, `${model} ${form}`);
        assert.deepEqual(answer.bytes, rest.bytes, `${model} ${form}: the same bytes`);
      }
      assert.deepEqual(typed.values, rest.values, `${model} typed: the same values`);
    }
  });

  test("the pipeline takes a gRPC call as a REST binary request: its record hashes the bytes, as REST binary's does", async () => {
    const rows = fraudRows(2, 99).flat().map(Math.fround);
    await fourWays(
      'fraud',
      [{ name: 'features', datatype: 'FP32', shape: [2, 8], values: rows }],
      'grpcbin-hash',
    );
    const logPath = join(gateway.dir, 'predictions.jsonl');
    const forms = ['rest-json', 'rest-binary', 'grpc-typed', 'grpc-raw'];
    const records = await waitFor('the four records', async () => {
      const all = await readJsonl(logPath);
      const found = forms.map((form) => all.find((r) => r.request_id === `grpcbin-hash-${form}`));
      return found.every(Boolean) ? found : undefined;
    });
    const [json, binary, typed, raw] = records.map((r) => r!);
    // Binary inputs are hashed as JSON without data followed by their bytes (src/telemetry/
    // prediction-log/inputs.ts): the same values as JSON hash differently.
    assert.match(String(binary!.input_hash), /^[0-9a-f]{64}$/);
    assert.equal(typed!.input_hash, binary!.input_hash, 'gRPC typed: the bytes REST binary sent');
    assert.equal(raw!.input_hash, binary!.input_hash, 'gRPC raw: the bytes REST binary sent');
    assert.notEqual(json!.input_hash, binary!.input_hash);
    // log_inputs decodes the tensor it logs, whatever form it came in.
    for (const record of [json, binary, typed, raw]) {
      assert.equal(record!.status, 200);
      assert.deepEqual((record!.inputs as { data: number[] }[])[0]!.data, rows, String(record!.request_id));
    }
  });

  test('every datatype of the echo model: typed and raw answer what REST does, INT64 past 2^32 and BOOL included', async () => {
    const values: Record<Datatype, Tensor['values']> = {
      FP32: [1.5, -0.25, 3.4028234663852886e38, Math.fround(1e-45)],
      FP64: [Math.PI, -1e300, 5e-324, 0],
      INT32: [-2147483648, 2147483647, 0, -7],
      INT64: [-(2n ** 53n) + 1n, 2n ** 53n - 1n, 2n ** 40n, -3n],
      BOOL: [true, false, false, true],
    };
    const tensors = TYPES_MODEL_DATATYPES.map((datatype) => ({
      name: `in_${datatype.toLowerCase()}`,
      datatype,
      shape: [2, 2],
      values: values[datatype],
    }));
    const { rest, typed, raw } = await fourWays('types', tensors, 'grpcbin-types');
    for (const [form, answer] of Object.entries({ typed, raw })) {
      assert.deepEqual(answer.names, rest.names, form);
      assert.deepEqual(answer.bytes, rest.bytes, `${form}: the same bytes`);
    }
    assert.deepEqual(typed.values, rest.values, 'typed: the same values');
    const int64 = rest.names.indexOf('out_int64');
    assert.deepEqual(typed.values[int64], asJson(values.INT64));
  });

  test("a fraud feature out of its contract's range is refused over gRPC, typed and raw, as over REST", async () => {
    const row = fraudRows(1, 5)[0]!.map(Math.fround);
    row[4] = 30; // hour_of_day: 0 to 23
    const tensors: Tensor[] = [{ name: 'features', datatype: 'FP32', shape: [1, 8], values: row }];
    const viaRest = await postJson(
      http,
      url('fraud'),
      { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: row }] },
      AUTH,
    );
    assert.equal(viaRest.status, 400, viaRest.text);
    const message = (viaRest.body as { error: string }).error;
    assert.match(message, /\/inputs\/0\/data\/4 hour_of_day: 30 is above the maximum 23/);
    for (const raw of [false, true]) {
      const refused = await grpc.call('ModelInfer', grpcMessage('fraud', tensors, raw), { metadata: AUTH });
      assert.equal(refused.code, Status.INVALID_ARGUMENT, refused.error?.details);
      assert.equal(refused.error!.details, message, raw ? 'raw' : 'typed');
      assert.equal(refused.trailers!.get('x-switchyard-error-code')[0], 'SWY_ERR_INPUT_INVALID');
    }
  });
});
