import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inferBody } from '../../grpc/infer-body.js';
import { parseModelBody } from '../../http/json-body.js';
import { HEADER_LENGTH } from '../binary-tensors.js';
import type { ModelInferResponse } from './inference.js';
import {
  ConversionError,
  modelInferRequest,
  restAnswerText,
  type RestInferRequest,
} from './rest-messages.js';

const none = () => undefined;

describe('modelInferRequest: a REST body as a ModelInferRequest with raw contents', () => {
  test('JSON values become little-endian raw contents, nested data flattened, in the inputs order', () => {
    const message = modelInferRequest(
      'fraud',
      '2',
      {
        id: 'r-1',
        inputs: [
          {
            name: 'a',
            datatype: 'FP32',
            shape: [2, 2],
            data: [
              [1.5, -2],
              [3, 0.25],
            ],
          },
          { name: 'b', datatype: 'INT64', shape: [2], data: [-1, 2 ** 40] },
          { name: 'c', datatype: 'BOOL', shape: [3], data: [true, false, true] },
        ],
      },
      none,
    );
    assert.equal(message.model_name, 'fraud');
    assert.equal(message.model_version, '2');
    assert.equal(message.id, 'r-1');
    assert.deepEqual(
      message.inputs.map((i) => [i.name, i.datatype, i.shape, i.contents]),
      [
        ['a', 'FP32', [2, 2], null],
        ['b', 'INT64', [2], null],
        ['c', 'BOOL', [3], null],
      ],
    );
    const [a, b, c] = message.raw_input_contents;
    assert.deepEqual(
      [...new Float32Array(a!.buffer.slice(a!.byteOffset, a!.byteOffset + a!.length))],
      [1.5, -2, 3, 0.25],
    );
    assert.equal(a!.readFloatLE(4), -2);
    assert.equal(b!.readBigInt64LE(0), -1n);
    assert.equal(b!.readBigInt64LE(8), 2n ** 40n);
    assert.deepEqual([...c!], [1, 0, 1]);
  });

  test('a binary input goes on as its bytes, without binary_data_size; other parameters are typed', () => {
    const bytes = Buffer.from(new Float32Array([1, 2]).buffer);
    const message = modelInferRequest(
      'm',
      '1',
      {
        parameters: { flag: true, count: 3, ratio: 0.5, label: 'x' },
        inputs: [{ name: 'x', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8, note: 'n' } }],
        outputs: [{ name: 'y', parameters: { top: 2 } }],
      },
      (index) => (index === 0 ? bytes : undefined),
    );
    assert.equal(message.raw_input_contents[0], bytes);
    assert.deepEqual(message.inputs[0]!.parameters, {
      note: { parameter_choice: 'string_param', string_param: 'n' },
    });
    assert.deepEqual(message.parameters, {
      flag: { parameter_choice: 'bool_param', bool_param: true },
      count: { parameter_choice: 'int64_param', int64_param: 3 },
      ratio: { parameter_choice: 'double_param', double_param: 0.5 },
      label: { parameter_choice: 'string_param', string_param: 'x' },
    });
    assert.deepEqual(message.outputs, [
      { name: 'y', parameters: { top: { parameter_choice: 'int64_param', int64_param: 2 } } },
    ]);
    assert.equal(message.id, '');
  });

  test('BYTES elements are length-prefixed, as inference_grpc.md lays out raw BYTES', () => {
    const message = modelInferRequest(
      'm',
      '1',
      { inputs: [{ name: 't', datatype: 'BYTES', shape: [2], data: ['hé', ''] }] },
      none,
    );
    assert.deepEqual([...message.raw_input_contents[0]!], [3, 0, 0, 0, 0x68, 0xc3, 0xa9, 0, 0, 0, 0]);
  });

  test('what protobuf has no field for is refused as the request’s (the REST runtime answers 400 too)', () => {
    const input = { name: 'x', datatype: 'FP32', shape: [1], data: [1] };
    assert.throws(
      () => modelInferRequest('m', '1', { parameters: { nested: { a: 1 } }, inputs: [input] }, none),
      (error: unknown) =>
        error instanceof ConversionError &&
        error.message === 'parameters.nested must be a string, a number or a boolean',
    );
    assert.throws(
      () => modelInferRequest('m', '1', { inputs: [{ ...input, datatype: 'FP16', data: [1] }] }, none),
      ConversionError,
    );
    assert.throws(
      () => modelInferRequest('m', '1', { inputs: [{ ...input, data: undefined }] }, none),
      /data: not an array/,
    );
  });

  test("the front door's inferBody reads it back as the same request, its tensors binary", () => {
    const request: RestInferRequest = {
      id: 'round',
      parameters: { p: 'v' },
      inputs: [
        { name: 'f', datatype: 'FP32', shape: [1, 3], data: [0.5, 1.25, -8] },
        { name: 'i', datatype: 'INT32', shape: [2], data: [7, -7] },
      ],
      outputs: [{ name: 'score' }],
    };
    const { body, headerLength } = inferBody(modelInferRequest('m', '1', request, none));
    const read = parseModelBody(body, { [HEADER_LENGTH]: String(headerLength) }, 64) as RestInferRequest;
    assert.equal(read.id, 'round');
    assert.deepEqual(read.parameters, { p: 'v', binary_data_output: true });
    assert.deepEqual(read.outputs, request.outputs);
    // `data` decodes the input's bytes when read (src/shared/binary-tensors.ts, attachBinary).
    assert.deepEqual(
      read.inputs.map(({ name, datatype, shape, data }) => ({ name, datatype, shape, data })),
      request.inputs,
    );
  });
});

function response(overrides: Partial<ModelInferResponse>): ModelInferResponse {
  return {
    model_name: 'fraud',
    model_version: '1',
    id: '',
    outputs: [],
    raw_output_contents: [],
    ...overrides,
  };
}

describe('restAnswerText: a ModelInferResponse as the REST runtime would answer', () => {
  test('raw contents: the JSON text of the runtime’s REST answer, id last and only when given', () => {
    const scores = new Float32Array([0.125, 0.7]);
    const text = restAnswerText(
      response({
        outputs: [{ name: 'score', datatype: 'FP32', shape: [2, 1] }],
        raw_output_contents: [Buffer.from(scores.buffer)],
      }),
    );
    assert.equal(
      text,
      `{"model_name":"fraud","model_version":"1","outputs":[{"name":"score","datatype":"FP32","shape":[2,1],"data":[0.125,${scores[1]}]}]}`,
    );
    const withId = restAnswerText(
      response({
        id: 'r-9',
        outputs: [{ name: 'n', datatype: 'INT32', shape: [1], contents: { int_contents: [4] } }],
      }),
    );
    assert.equal(
      withId,
      '{"model_name":"fraud","model_version":"1","outputs":[{"name":"n","datatype":"INT32","shape":[1],"data":[4]}],"id":"r-9"}',
    );
  });

  test('values JSON cannot carry are refused in the runtime’s words', () => {
    assert.throws(
      () =>
        restAnswerText(
          response({
            outputs: [{ name: 'score', datatype: 'FP32', shape: [1, 1] }],
            raw_output_contents: [Buffer.from(new Float32Array([Number.NaN]).buffer)],
          }),
        ),
      (error: unknown) =>
        error instanceof ConversionError &&
        error.message === `outputs: the model's output "score" is NaN for this input; JSON cannot carry it`,
    );
    const big = Buffer.alloc(8);
    big.writeBigInt64LE(2n ** 60n);
    assert.throws(
      () =>
        restAnswerText(
          response({ outputs: [{ name: 'n', datatype: 'INT64', shape: [1] }], raw_output_contents: [big] }),
        ),
      /beyond what a JSON number carries exactly/,
    );
  });
});
