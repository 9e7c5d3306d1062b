import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseModelBody } from '../http/json-body.js';
import type { ModelAnswer } from '../http/model-request.js';
import { HEADER_LENGTH, binaryOf } from '../shared/binary-tensors.js';
import type { InferInputTensor, ModelInferRequest } from '../shared/grpc/inference.js';
import { grpcResponse } from './infer-answer.js';
import { inferBody } from './infer-body.js';

const input = (datatype: string, shape: number[], contents: InferInputTensor['contents'] = null) => ({
  name: `x-${datatype}`,
  datatype,
  shape,
  parameters: {},
  contents,
});

const message = (inputs: InferInputTensor[], raw: Buffer[] = []): ModelInferRequest => ({
  model_name: 'm',
  model_version: '',
  id: 'req-1',
  parameters: { tenant_tag: { parameter_choice: 'string_param', string_param: 'a' } },
  inputs,
  outputs: [{ name: 'y', parameters: {} }],
  raw_input_contents: raw,
});

/** The body as the request handler reads it, with the header the front door sets. */
const parsed = (request: ModelInferRequest) => {
  const { body, headerLength } = inferBody(request);
  return parseModelBody(body, { [HEADER_LENGTH]: String(headerLength) }, 64) as {
    id: string;
    parameters: Record<string, unknown>;
    inputs: { name: string; datatype: string; shape: number[]; parameters: object; data: unknown[] }[];
    outputs: object[];
  };
};

test('raw contents become the binary tensor body, the bytes as they arrived; the answer is asked for in binary', () => {
  const bytes = Buffer.from(new Float32Array([1.5, -2, 0.1, 3e38]).buffer);
  const body = parsed(message([input('FP32', [2, 2])], [bytes]));
  assert.equal(body.id, 'req-1');
  assert.deepEqual(body.parameters, { tenant_tag: 'a', binary_data_output: true });
  assert.deepEqual(body.outputs, [{ name: 'y' }]);
  const [tensor] = body.inputs;
  assert.deepEqual(JSON.parse(JSON.stringify(tensor)), {
    name: 'x-FP32',
    datatype: 'FP32',
    shape: [2, 2],
    parameters: { binary_data_size: 16 },
  });
  assert.ok(binaryOf(tensor)!.equals(bytes), 'the same bytes');
  assert.deepEqual(tensor!.data, [1.5, -2, Math.fround(0.1), Math.fround(3e38)]);
});

test('typed contents are written once as little-endian bytes of their datatype, decoding to the same values', () => {
  const body = parsed(
    message([
      input('FP32', [1, 3], { fp32_contents: [Math.fround(0.1), -0, 3.4028234663852886e38] }),
      input('INT64', [2], { int64_contents: [-(2 ** 53) + 1, 2 ** 53 - 1] }),
      input('UINT64', [1], { uint64_contents: [2 ** 40] }),
      input('INT8', [2], { int_contents: [-128, 127] }),
      input('UINT16', [1], { uint_contents: [65535] }),
      input('BOOL', [3], { bool_contents: [true, false, true] }),
      input('FP64', [1], { fp64_contents: [Math.PI] }),
    ]),
  );
  const bytes = body.inputs.map((t) => binaryOf(t)!);
  assert.deepEqual(
    bytes.map((b) => b.length),
    [12, 16, 8, 2, 2, 3, 8],
  );
  assert.equal(bytes[1]!.readBigInt64LE(0), -(2n ** 53n) + 1n);
  assert.equal(bytes[1]!.readBigInt64LE(8), 2n ** 53n - 1n);
  assert.deepEqual([...bytes[5]!], [1, 0, 1]);
  assert.deepEqual(
    body.inputs.map((t) => t.data),
    [
      [Math.fround(0.1), -0, 3.4028234663852886e38],
      [-(2 ** 53) + 1, 2 ** 53 - 1],
      [2 ** 40],
      [-128, 127],
      [65535],
      [true, false, true],
      [Math.PI],
    ],
  );
});

test('typed values the JSON path refused are refused here: NaN, infinities, out of range, INT64 past 2^53, a wrong count', () => {
  const refused: [InferInputTensor, RegExp][] = [
    [input('FP32', [2], { fp32_contents: [1, NaN] }), /fp32_contents: NaN not FP32 values/],
    [input('FP64', [1], { fp64_contents: [Infinity] }), /Infinity not FP64 values/],
    [input('INT8', [2], { int_contents: [128, -129] }), /128, -129 not INT8 values/],
    [input('UINT32', [1], { uint_contents: [-1] }), /-1 not UINT32 values/],
    [input('INT64', [1], { int64_contents: [2 ** 53] }), /9007199254740992 not INT64 values/],
    [input('FP32', [1, 8], { fp32_contents: [1, 2, 3] }), /3 values; shape \[1, 8\] takes 8/],
    [input('FP32', [-1, 2], { fp32_contents: [1, 2] }), /shape: \[-1, 2\] is not a list of sizes/],
  ];
  for (const [tensor, detail] of refused) {
    assert.throws(
      () => inferBody(message([tensor])),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'SWY_ERR_INPUT_INVALID');
        assert.match(error.message, detail);
        return true;
      },
    );
  }
});

const answer = (json: object, tensors: Buffer[] = []): ModelAnswer => {
  if (tensors.length === 0) return { status: 200, headers: {}, json: JSON.stringify(json) };
  const head = Buffer.from(JSON.stringify(json));
  return {
    status: 200,
    headers: { [HEADER_LENGTH]: String(head.length) },
    json: '',
    bytes: { body: Buffer.concat([head, ...tensors]), type: 'application/octet-stream' },
  };
};

test('a binary answer, a JSON answer and one of each convert to the same response', () => {
  const scores = [0.25, Math.fround(0.7)];
  const labels = [3, -1];
  const scoreBytes = Buffer.from(new Float32Array(scores).buffer);
  const labelBytes = Buffer.alloc(16);
  labelBytes.writeBigInt64LE(3n, 0);
  labelBytes.writeBigInt64LE(-1n, 8);
  const described = { model_name: 'm', model_version: '2', id: 'req-1' };
  const score = { name: 'score', datatype: 'FP32', shape: [2, 1] };
  const label = { name: 'label', datatype: 'INT64', shape: [2] };
  const answers = {
    binary: answer(
      {
        ...described,
        outputs: [
          { ...score, parameters: { binary_data_size: 8 } },
          { ...label, parameters: { binary_data_size: 16 } },
        ],
      },
      [scoreBytes, labelBytes],
    ),
    json: answer({
      ...described,
      outputs: [
        { ...score, data: scores },
        { ...label, data: labels },
      ],
    }),
    mixed: answer(
      {
        ...described,
        outputs: [
          { ...score, data: scores },
          { ...label, parameters: { binary_data_size: 16 } },
        ],
      },
      [labelBytes],
    ),
  };
  for (const [form, given] of Object.entries(answers)) {
    const typed = grpcResponse(given, false);
    assert.deepEqual(
      typed,
      {
        ...described,
        outputs: [
          { ...score, contents: { fp32_contents: scores } },
          { ...label, contents: { int64_contents: labels } },
        ],
        raw_output_contents: [],
      },
      form,
    );
    const raw = grpcResponse(given, true);
    assert.deepEqual(raw.outputs, [score, label], form);
    assert.deepEqual(raw.raw_output_contents, [scoreBytes, labelBytes], form);
  }
});

test('an answer whose binary sizes run past its bytes is malformed, not misread', () => {
  const broken = answer(
    {
      model_name: 'm',
      outputs: [{ name: 's', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } }],
    },
    [Buffer.alloc(4)],
  );
  assert.throws(
    () => grpcResponse(broken, true),
    /SWY_ERR_UPSTREAM_MALFORMED_ANSWER|beyond the answer's bytes/,
  );
});
