import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import type { Agent } from 'undici';
import type { ModelInferResponse } from '../../src/shared/grpc/inference.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { healthClient, inferenceClient, type InferenceClient } from '../harness/grpc.js';
import { createClient, getJson, metricValue, postJson } from '../harness/http.js';
import { TYPES_MODEL_DATATYPES, writeTypesModel } from '../harness/models.js';
import type { StartedProcess } from '../harness/process.js';
import { copyRepository, grpcPortOf, startRuntime } from '../harness/runtime.js';

/** The runtime's HTTP body limit, so its gRPC receive limit too. */
const BODY_LIMIT = 256 * 1024;

/** Each datatype's values for the types model's [2, 2] tensors, and how they go over the wire. */
const TYPED: Record<string, { field: string; values: unknown[]; bytes: (values: unknown[]) => Buffer }> = {
  FP32: {
    field: 'fp32_contents',
    values: [1.5, -2.25, 3.125, 0],
    bytes: (v) => Buffer.from(new Float32Array(v as number[]).buffer),
  },
  FP64: {
    field: 'fp64_contents',
    values: [1e300, -0.1, Math.PI, 2],
    bytes: (v) => Buffer.from(new Float64Array(v as number[]).buffer),
  },
  INT32: {
    field: 'int_contents',
    values: [-5, 7, 2147483647, -2147483648],
    bytes: (v) => Buffer.from(new Int32Array(v as number[]).buffer),
  },
  INT64: {
    field: 'int64_contents',
    values: [2 ** 40, -3, 0, 9007199254740991],
    bytes: (v) => Buffer.from(new BigInt64Array((v as number[]).map((n) => BigInt(n))).buffer),
  },
  BOOL: {
    field: 'bool_contents',
    values: [true, false, false, true],
    bytes: (v) => Buffer.from((v as boolean[]).map((b) => (b ? 1 : 0))),
  },
};

/** Reads raw output bytes back as the datatype's values. */
function fromBytes(datatype: string, bytes: Buffer): unknown[] {
  const copy = new Uint8Array(bytes).buffer; // aligned
  switch (datatype) {
    case 'FP32':
      return Array.from(new Float32Array(copy));
    case 'FP64':
      return Array.from(new Float64Array(copy));
    case 'INT32':
      return Array.from(new Int32Array(copy));
    case 'INT64':
      return Array.from(new BigInt64Array(copy), Number);
    default:
      return Array.from(new Uint8Array(copy), (b) => b === 1);
  }
}

const features = (rows: number[][]) => ({ name: 'features', datatype: 'FP32', shape: [rows.length, 8] });

describe('runtime: inference.GRPCInferenceService', () => {
  let runtime: StartedProcess;
  let grpc: InferenceClient;
  let http: Agent;
  let repository: Awaited<ReturnType<typeof copyRepository>>;

  before(async () => {
    repository = await copyRepository(['fraud']);
    await writeTypesModel(repository.dir);
    runtime = await startRuntime({
      repository: repository.dir,
      grpc: true,
      args: ['--max-body-bytes', String(BODY_LIMIT)],
    });
    grpc = inferenceClient(`127.0.0.1:${grpcPortOf(runtime)}`);
    http = createClient();
  });
  after(async () => {
    grpc.close();
    await http.close();
    assert.equal(await runtime.stop(), 0);
    await repository.remove();
  });

  test('health: live, ready', async () => {
    assert.deepEqual((await grpc.call('ServerLive', {})).response, { live: true });
    assert.deepEqual((await grpc.call('ServerReady', {})).response, { ready: true });
  });

  test('grpc.health.v1 Check: the server and the inference service are SERVING; another service NOT_FOUND', async () => {
    const health = healthClient(`127.0.0.1:${grpcPortOf(runtime)}`);
    try {
      assert.deepEqual((await health.call('Check', {})).response, { status: 'SERVING' });
      assert.deepEqual((await health.call('Check', { service: 'inference.GRPCInferenceService' })).response, {
        status: 'SERVING',
      });
      const unknown = await health.call('Check', { service: 'nope.Service' });
      assert.equal(unknown.code, Status.NOT_FOUND);
    } finally {
      health.close();
    }
  });

  test('server metadata is what GET /v2 answers', async () => {
    const { response } = await grpc.call('ServerMetadata', {});
    const { body } = await getJson(http, `${runtime.url}/v2`);
    assert.deepEqual(response, body);
  });

  test('model metadata is what GET /v2/models/{m} answers, without the parameters the message lacks', async () => {
    for (const [request, path] of [
      [{ name: 'fraud' }, '/v2/models/fraud'],
      [{ name: 'fraud', version: '2' }, '/v2/models/fraud/versions/2'],
    ] as const) {
      const { response, code } = await grpc.call('ModelMetadata', request);
      assert.equal(code, Status.OK);
      const { body } = await getJson(http, `${runtime.url}${path}`);
      const { parameters: _left, ...expected } = body as Record<string, unknown>;
      assert.deepEqual(response, expected);
    }
    const unknown = await grpc.call('ModelMetadata', { name: 'nope' });
    assert.equal(unknown.code, Status.NOT_FOUND);
    assert.match(unknown.error!.details, /unknown model "nope"/);
    const noVersion = await grpc.call('ModelMetadata', { name: 'fraud', version: '9' });
    assert.equal(noVersion.code, Status.NOT_FOUND);
    assert.match(noVersion.error!.details, /has no version "9"/);
  });

  test('model ready: by name, by version; an unknown model or version is NOT_FOUND', async () => {
    assert.deepEqual((await grpc.call('ModelReady', { name: 'fraud' })).response, { ready: true });
    assert.deepEqual((await grpc.call('ModelReady', { name: 'fraud', version: '2' })).response, {
      ready: true,
    });
    assert.equal((await grpc.call('ModelReady', { name: 'nope' })).code, Status.NOT_FOUND);
    assert.equal((await grpc.call('ModelReady', { name: 'fraud', version: '9' })).code, Status.NOT_FOUND);
  });

  test('infer with typed contents: the scores HTTP gives, the id echoed, server-timing in the trailers', async () => {
    const rows = fraudRows(5, 21);
    const viaHttp = await postJson(
      http,
      `${runtime.url}/v2/models/fraud/versions/1/infer`,
      fraudRequest(rows),
    );
    const scores = (viaHttp.body as { outputs: { data: number[] }[] }).outputs[0]!.data;
    const { response, code, trailers } = await grpc.call<ModelInferResponse>('ModelInfer', {
      model_name: 'fraud',
      model_version: '1',
      id: 'grpc-typed-1',
      inputs: [{ ...features(rows), contents: { fp32_contents: rows.flat() } }],
    });
    assert.equal(code, Status.OK);
    assert.equal(response!.model_name, 'fraud');
    assert.equal(response!.model_version, '1');
    assert.equal(response!.id, 'grpc-typed-1');
    assert.equal(response!.raw_output_contents.length, 0, 'a typed request gets a typed answer');
    const [output] = response!.outputs;
    assert.equal(output!.name, 'score');
    assert.equal(output!.datatype, 'FP32');
    assert.deepEqual(output!.shape, [5, 1]);
    assert.deepEqual(output!.contents!.fp32_contents, scores);
    assert.match(
      String(trailers!.get('server-timing')[0]),
      /^queue;dur=[\d.]+, infer;dur=[\d.]+, batch;desc="\d+"$/,
    );
  });

  test('infer with raw contents: raw answer, the same scores, the latest ready version when none is named', async () => {
    const rows = fraudRows(3, 5);
    const viaHttp = await postJson(http, `${runtime.url}/v2/models/fraud/infer`, fraudRequest(rows));
    const { outputs, model_version } = viaHttp.body as {
      model_version: string;
      outputs: { data: number[] }[];
    };
    const { response, code } = await grpc.call<ModelInferResponse>('ModelInfer', {
      model_name: 'fraud',
      inputs: [features(rows)],
      raw_input_contents: [Buffer.from(new Float32Array(rows.flat()).buffer)],
    });
    assert.equal(code, Status.OK);
    assert.equal(response!.model_version, model_version);
    assert.equal(response!.id, '');
    assert.equal(response!.outputs[0]!.contents, null, 'a raw answer has no typed contents');
    assert.deepEqual(response!.outputs[0]!.shape, [3, 1]);
    assert.equal(response!.raw_output_contents.length, 1);
    assert.equal(response!.raw_output_contents[0]!.length, 3 * 4);
    assert.deepEqual(fromBytes('FP32', response!.raw_output_contents[0]!), outputs[0]!.data);
  });

  test('every datatype, typed and raw, in and out (the identity model)', async () => {
    const inputs = TYPES_MODEL_DATATYPES.map((d) => ({
      name: `in_${d.toLowerCase()}`,
      datatype: d,
      shape: [2, 2],
    }));
    const typed = await grpc.call<ModelInferResponse>('ModelInfer', {
      model_name: 'types',
      inputs: inputs.map((input) => ({
        ...input,
        contents: { [TYPED[input.datatype]!.field]: TYPED[input.datatype]!.values },
      })),
    });
    assert.equal(typed.code, Status.OK, typed.error?.details);
    const raw = await grpc.call<ModelInferResponse>('ModelInfer', {
      model_name: 'types',
      inputs,
      raw_input_contents: inputs.map((input) => TYPED[input.datatype]!.bytes(TYPED[input.datatype]!.values)),
    });
    assert.equal(raw.code, Status.OK, raw.error?.details);
    for (const datatype of TYPES_MODEL_DATATYPES) {
      const name = `out_${datatype.toLowerCase()}`;
      const { field, values } = TYPED[datatype]!;
      const typedOut = typed.response!.outputs.find((o) => o.name === name)!;
      assert.equal(typedOut.datatype, datatype);
      assert.deepEqual(typedOut.shape, [2, 2]);
      assert.deepEqual(typedOut.contents![field as 'fp32_contents'], values, `${datatype} typed`);
      const at = raw.response!.outputs.findIndex((o) => o.name === name);
      assert.deepEqual(
        fromBytes(datatype, raw.response!.raw_output_contents[at]!),
        values,
        `${datatype} raw`,
      );
    }
  });

  test('asked-for outputs only, in the order asked', async () => {
    const { response, code } = await grpc.call<ModelInferResponse>('ModelInfer', {
      model_name: 'types',
      inputs: TYPES_MODEL_DATATYPES.map((d) => ({
        name: `in_${d.toLowerCase()}`,
        datatype: d,
        shape: [1, 2],
        contents: { [TYPED[d]!.field]: TYPED[d]!.values.slice(0, 2) },
      })),
      outputs: [{ name: 'out_int64' }, { name: 'out_bool' }],
    });
    assert.equal(code, Status.OK);
    assert.deepEqual(
      response!.outputs.map((o) => o.name),
      ['out_int64', 'out_bool'],
    );
  });

  test('malformed requests are INVALID_ARGUMENT with the problem named; the process keeps serving', async () => {
    const rows = fraudRows(1);
    const good = Buffer.from(new Float32Array(rows.flat()).buffer);
    const cases: [string, object, RegExp][] = [
      [
        'the wrong datatype',
        { inputs: [{ ...features(rows), datatype: 'FP64', contents: { fp64_contents: rows.flat() } }] },
        /inputs\[0\]\.datatype: expected FP32, got "FP64"/,
      ],
      [
        'a shape that does not fit',
        {
          inputs: [
            { ...features(rows), shape: [1, 7], contents: { fp32_contents: rows.flat().slice(0, 7) } },
          ],
        },
        /inputs\[0\]\.shape: \[1, 7\] does not fit the model's \[N, 8\]/,
      ],
      [
        'fewer typed values than the shape needs',
        { inputs: [{ ...features(rows), contents: { fp32_contents: [1, 2, 3] } }] },
        /3 values for shape \[1, 8\], which needs 8/,
      ],
      [
        'raw contents of the wrong size',
        { inputs: [features(rows)], raw_input_contents: [good.subarray(0, 30)] },
        /inputs\[0\]: raw contents of 30 bytes, where 8 FP32 values of 4 bytes need 32/,
      ],
      [
        'raw contents not one per input',
        { inputs: [features(rows)], raw_input_contents: [good, good] },
        /raw_input_contents: 2 entries for 1 inputs/,
      ],
      [
        'raw and typed contents together',
        {
          inputs: [{ ...features(rows), contents: { fp32_contents: rows.flat() } }],
          raw_input_contents: [good],
        },
        /given beside raw_input_contents/,
      ],
      [
        "values in another datatype's field",
        { inputs: [{ ...features(rows), contents: { int_contents: [1, 2, 3, 4, 5, 6, 7, 8] } }] },
        /FP32 values go in fp32_contents, not int_contents/,
      ],
      ['no contents at all', { inputs: [features(rows)] }, /inputs\[0\]\.contents: missing/],
      [
        'an input the model does not have',
        { inputs: [{ ...features(rows), name: 'x', contents: { fp32_contents: rows.flat() } }] },
        /the model has no input "x"/,
      ],
      [
        'more rows than max_batch_size',
        {
          inputs: [{ ...features(fraudRows(65)), contents: { fp32_contents: fraudRows(65).flat() } }],
        },
        /batch of 65 rows is above the model's max_batch_size 64/,
      ],
      [
        'a parameter with no value',
        {
          parameters: { empty: {} },
          inputs: [{ ...features(rows), contents: { fp32_contents: rows.flat() } }],
        },
        /parameters\.empty must be a string, a number or a boolean/,
      ],
      [
        'an output the model does not have',
        {
          inputs: [{ ...features(rows), contents: { fp32_contents: rows.flat() } }],
          outputs: [{ name: 'nope' }],
        },
        /the model has no output "nope"/,
      ],
    ];
    for (const [what, request, message] of cases) {
      const result = await grpc.call('ModelInfer', { model_name: 'fraud', ...request });
      assert.equal(result.code, Status.INVALID_ARGUMENT, `${what}: ${result.error?.details}`);
      assert.match(result.error!.details, message, what);
    }
    const badBool = await grpc.call('ModelInfer', {
      model_name: 'types',
      inputs: TYPES_MODEL_DATATYPES.map((d) => ({
        name: `in_${d.toLowerCase()}`,
        datatype: d,
        shape: [1, 2],
      })),
      raw_input_contents: TYPES_MODEL_DATATYPES.map((d) =>
        d === 'BOOL' ? Buffer.from([1, 2]) : TYPED[d]!.bytes(TYPED[d]!.values.slice(0, 2)),
      ),
    });
    assert.equal(badBool.code, Status.INVALID_ARGUMENT);
    assert.match(badBool.error!.details, /byte 1 is 2, not a BOOL/);
    assert.deepEqual((await grpc.call('ServerLive', {})).response, { live: true });
  });

  test('an unknown model or version is NOT_FOUND', async () => {
    const rows = fraudRows(1);
    const input = { ...features(rows), contents: { fp32_contents: rows.flat() } };
    const unknown = await grpc.call('ModelInfer', { model_name: 'nope', inputs: [input] });
    assert.equal(unknown.code, Status.NOT_FOUND);
    assert.match(unknown.error!.details, /unknown model "nope"/);
    const noVersion = await grpc.call('ModelInfer', {
      model_name: 'fraud',
      model_version: '9',
      inputs: [input],
    });
    assert.equal(noVersion.code, Status.NOT_FOUND);
    assert.match(noVersion.error!.details, /has no version "9"/);
  });

  test('bytes that are not a ModelInferRequest are refused; the process keeps serving', async () => {
    const error = await new Promise<ServiceError | null>((resolve) =>
      grpc.raw.makeUnaryRequest(
        '/inference.GRPCInferenceService/ModelInfer',
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        // Field 5 (inputs) as a length-delimited record claiming more bytes than follow.
        Buffer.from([0x2a, 0x7f, 0x01]),
        new Metadata(),
        (e) => resolve(e),
      ),
    );
    assert.equal(error?.code, Status.INVALID_ARGUMENT);
    assert.match(error.details, /not a valid protobuf message of its type/);
    assert.deepEqual((await grpc.call('ServerLive', {})).response, { live: true });
  });

  test('a message over the body limit is RESOURCE_EXHAUSTED before it is decoded; the process keeps serving', async () => {
    const rows = 64;
    const big = Buffer.alloc(BODY_LIMIT + 1024);
    const result = await grpc.call('ModelInfer', {
      model_name: 'fraud',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 8] }],
      raw_input_contents: [big],
    });
    assert.equal(result.code, Status.RESOURCE_EXHAUSTED);
    assert.match(result.error!.details, /larger than max/i);
    const rowsOk = fraudRows(1);
    const after = await grpc.call('ModelInfer', {
      model_name: 'fraud',
      inputs: [{ ...features(rowsOk), contents: { fp32_contents: rowsOk.flat() } }],
    });
    assert.equal(after.code, Status.OK);
  });

  test('metrics: gRPC requests are counted with protocol="grpc", apart from HTTP', async () => {
    const { text } = await getJson(http, `${runtime.url}/metrics`);
    const grpcOk = metricValue(text, 'switchyard_runtime_requests_total', {
      protocol: 'grpc',
      outcome: 'ok',
    });
    const grpcBad = metricValue(text, 'switchyard_runtime_requests_total', {
      protocol: 'grpc',
      outcome: 'bad_request',
    });
    const httpOk = metricValue(text, 'switchyard_runtime_requests_total', {
      protocol: 'http',
      outcome: 'ok',
    });
    const notFound = metricValue(text, 'switchyard_runtime_requests_total', {
      protocol: 'grpc',
      outcome: 'not_found',
    });
    // Earlier tests: 2 fraud + 2 types + 1 asked-for + 1 after the oversized one answered; 2 by HTTP.
    assert.equal(grpcOk, 6);
    assert.equal(httpOk, 2);
    // The 13 malformed requests and the one that was not protobuf.
    assert.equal(grpcBad, 14);
    assert.equal(notFound, 2);
  });
});
