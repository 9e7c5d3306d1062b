import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InferRequest, ModelMetadata } from '../../shared/oip.js';
import { checkTensors } from './tensors.js';

/** The fraud model as switchyard's runtime describes it: batched, at most 64 rows. */
const FRAUD: ModelMetadata = {
  name: 'fraud',
  versions: ['1'],
  platform: 'onnxruntime',
  inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }],
  outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
  parameters: { max_batch_size: 64 },
};
const ROW = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];

const request = (input: Record<string, unknown> = {}, rest: Partial<InferRequest> = {}): InferRequest =>
  ({
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: ROW, ...input }],
    ...rest,
  }) as InferRequest;

const paths = (problems: { path: string; message: string }[]) =>
  problems.map((p) => `${p.path} ${p.message}`);

test('a request the runtime takes has no problem', () => {
  assert.deepEqual(checkTensors(request(), FRAUD), []);
  assert.deepEqual(checkTensors(request({}, { outputs: [{ name: 'score' }] }), FRAUD), []);
});

test('values the runtime cannot hold: Infinity (1e309 after JSON.parse), beyond FP32, NaN', () => {
  for (const value of [Infinity, -Infinity, 1e39, -3.5e38, NaN]) {
    const problems = checkTensors(request({ data: [value, ...ROW.slice(1)] }), FRAUD);
    assert.deepEqual(paths(problems), [`/inputs/0/data/0 ${value} is not a FP32 value`], String(value));
  }
  assert.deepEqual(checkTensors(request({ data: [3.4e38, ...ROW.slice(1)] }), FRAUD), [], 'FP32 max fits');
});

test('integer datatypes are checked against their range', () => {
  const ints = (datatype: string): ModelMetadata => ({
    ...FRAUD,
    inputs: [{ name: 'features', datatype: datatype as 'INT32', shape: [-1, 1] }],
  });
  const one = (datatype: string, value: number) =>
    checkTensors(request({ datatype, shape: [1, 1], data: [value] }), ints(datatype)).length;
  assert.equal(one('INT32', 2147483647), 0);
  assert.equal(one('INT32', 2147483648), 1);
  assert.equal(one('INT32', 1.5), 1);
  assert.equal(one('INT64', Number.MAX_SAFE_INTEGER), 0);
  assert.equal(one('INT64', 2 ** 60), 1, 'past 2^53 a JSON number lost its exact value');
  assert.equal(one('UINT8', -1), 1);
  assert.equal(one('UINT8', 255), 0);
});

test('a batch: at least one row, at most max_batch_size, the same rows in every input', () => {
  assert.deepEqual(paths(checkTensors(request({ shape: [0, 8], data: [] }), FRAUD)), [
    '/inputs/0/shape a batch needs at least one row',
  ]);
  const rows = Array.from({ length: 65 }, () => ROW).flat();
  assert.deepEqual(paths(checkTensors(request({ shape: [65, 8], data: rows }), FRAUD)), [
    "/inputs/0/shape batch of 65 rows is above the model's max_batch_size 64",
  ]);
  const twoInputs: ModelMetadata = {
    ...FRAUD,
    inputs: [
      { name: 'a', datatype: 'FP32', shape: [-1, 1] },
      { name: 'b', datatype: 'FP32', shape: [-1, 1] },
    ],
  };
  const mixed = {
    inputs: [
      { name: 'a', datatype: 'FP32', shape: [2, 1], data: [1, 2] },
      { name: 'b', datatype: 'FP32', shape: [3, 1], data: [1, 2, 3] },
    ],
  } as InferRequest;
  assert.deepEqual(paths(checkTensors(mixed, twoInputs)), [
    '/inputs/1/shape 3 rows where /inputs/0/shape has 2',
  ]);
});

test('without a stated max_batch_size a variable first dimension is no batch: nothing is assumed', () => {
  const { parameters: _dropped, ...unstated } = FRAUD;
  const rows = Array.from({ length: 65 }, () => ROW).flat();
  assert.deepEqual(checkTensors(request({ shape: [65, 8], data: rows }), unstated), []);
});

test('outputs asked for are outputs of the model', () => {
  assert.deepEqual(paths(checkTensors(request({}, { outputs: [{ name: 'nope' }] }), FRAUD)), [
    '/outputs/0/name the model has no output "nope" (it has score)',
  ]);
});
