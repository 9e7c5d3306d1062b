import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContractConfig } from '../contract/config.js';
import type { InferRequest, ModelMetadata } from '../shared/oip.js';
import { readAnswer, type AnswerSpec } from './answer.js';

const METADATA: ModelMetadata = {
  name: 'fraud',
  versions: ['1'],
  platform: 'onnxruntime',
  inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }],
  outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
  parameters: { max_batch_size: 64 },
};
const CONTRACT: ContractConfig = {
  input: 'features',
  output: 'score',
  features: [{ name: 'x' }],
  decisions: { below: 'approve', thresholds: [{ at: 0.5, decision: 'review' }] },
};
const SPEC: AnswerSpec = { metadata: METADATA, contract: CONTRACT };
const request = (rows = 1, outputs?: string[]): InferRequest => ({
  inputs: [
    { name: 'features', datatype: 'FP32', shape: [rows, 8], data: new Array<number>(rows * 8).fill(0) },
  ],
  ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}),
});
const score = (data: unknown[], extra: Record<string, unknown> = {}) => ({
  name: 'score',
  datatype: 'FP32',
  shape: [data.length, 1],
  data,
  ...extra,
});
const read = (body: unknown, req: InferRequest | undefined = request(), spec = SPEC) =>
  readAnswer(typeof body === 'string' ? body : JSON.stringify(body), req, spec);

test('an answer that fits the request and the model is read', () => {
  const answer = read({ model_name: 'fraud', outputs: [score([0.25])] });
  assert.equal(answer.problem, undefined);
  assert.deepEqual(answer.problem === undefined && answer.response.outputs[0]!.data, [0.25]);
  assert.equal(read({ outputs: [score([0, 1])] }, request(2)).problem, undefined, 'the range is inclusive');
});

/** [what, body, the problem it is reported as] — each a 200 some broken runtime sent. */
const GARBAGE: [string, unknown, RegExp][] = [
  ['not JSON', '{"outputs": [', /not JSON/],
  ['JSON but not an object', '[1, 2]', /not a JSON object/],
  ['no outputs', {}, /"outputs" is not a non-empty array/],
  ['empty outputs', { outputs: [] }, /"outputs" is not a non-empty array/],
  ['an output that is no object', { outputs: [7] }, /outputs\[0\] is not an object/],
  ['null data', { outputs: [score([null])] }, /data\[0\] is null, not a FP32 value/],
  ['a string', { outputs: [score(['0.3'])] }, /data\[0\] is "0.3", not a FP32 value/],
  ['an object', { outputs: [score([{ v: 0.3 }])] }, /not a FP32 value/],
  ['a boolean', { outputs: [score([true])] }, /data\[0\] is true/],
  [
    '1e309 (Infinity after JSON.parse)',
    '{"outputs":[{"name":"score","datatype":"FP32","shape":[1,1],"data":[1e309]}]}',
    /not a FP32 value/,
  ],
  ['a score above the range', { outputs: [score([7.5])] }, /score 7.5 at data\[0\] is outside \[0, 1\]/],
  ['a score below the range', { outputs: [score([-3])] }, /score -3 at data\[0\] is outside \[0, 1\]/],
  ['a wrongly named output', { outputs: [score([0.3], { name: 'prob' })] }, /the model has no output "prob"/],
  ['the output twice', { outputs: [score([0.3]), score([0.3])] }, /"score" is given twice/],
  [
    'a wrong datatype',
    { outputs: [score([0.3], { datatype: 'FP64' })] },
    /datatype FP64, the model's is FP32/,
  ],
  [
    'a shape the model does not have',
    { outputs: [score([0.3], { shape: [1, 2] })] },
    /does not fit the model's \[-1, 1\]/,
  ],
  ['rows for another request', { outputs: [score([0.3, 0.4])] }, /2 rows for a request of 1/],
  ['fewer values than the shape', { outputs: [score([], { shape: [1, 1] })] }, /0 values for shape \[1, 1\]/],
  ['nested data', { outputs: [score([[0.3]])] }, /not a FP32 value/],
  [
    'a negative dimension',
    { outputs: [score([0.3], { shape: [-1, 1] })] },
    /shape is not an array of non-negative integers/,
  ],
];

for (const [what, body, problem] of GARBAGE) {
  test(`garbage is no answer: ${what}`, () => {
    const answer = read(body);
    assert.match(answer.problem ?? 'read as an answer', problem);
  });
}

test('the outputs asked for, and only those, must be in the answer', () => {
  const twoOutputs: ModelMetadata = {
    ...METADATA,
    outputs: [...METADATA.outputs, { name: 'logit', datatype: 'FP32', shape: [-1, 1] }],
  };
  const spec = { metadata: twoOutputs, contract: undefined };
  const logit = score([4], { name: 'logit' });
  assert.equal(read({ outputs: [logit] }, request(1, ['logit']), spec).problem, undefined);
  assert.match(read({ outputs: [logit] }, request(1), spec).problem ?? '', /output "score" is missing/);
  assert.match(
    read({ outputs: [score([0.3]), logit] }, request(1, ['logit']), spec).problem ?? '',
    /"score" was not asked for/,
  );
});

test('without metadata: the structure, the values and the contract are still checked', () => {
  const spec = { metadata: undefined, contract: CONTRACT };
  assert.equal(read({ outputs: [score([0.3])] }, request(), spec).problem, undefined);
  assert.match(
    read({ outputs: [score([0.3], { name: 'prob' })] }, request(), spec).problem ?? '',
    /"score" is missing/,
  );
  assert.match(read({ outputs: [score([null])] }, request(), spec).problem ?? '', /null/);
  assert.match(read({ outputs: [score([1.5])] }, request(), spec).problem ?? '', /outside \[0, 1\]/);
});

test("a call made from the request's text alone (a shadow's copies) checks against the model", () => {
  const alone = (body: unknown) => readAnswer(JSON.stringify(body), undefined, SPEC);
  assert.equal(alone({ outputs: [score([0.3, 0.4])] }).problem, undefined, 'rows unknown');
  assert.match(alone({ outputs: [score([0.3], { name: 'prob' })] }).problem ?? '', /no output "prob"/);
  assert.match(alone({ outputs: [score([7.5])] }).problem ?? '', /outside \[0, 1\]/);
});
