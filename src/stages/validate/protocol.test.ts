import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkForwarded } from './protocol.js';

const input = { name: 'features', datatype: 'FP32', shape: [1, 1], data: [1] };
const paths = (request: Parameters<typeof checkForwarded>[0]) =>
  checkForwarded(request).map((p) => `${p.path} ${p.message}`);

test('parameters are objects of strings, numbers and booleans, at every level', () => {
  assert.deepEqual(paths({ inputs: [input], parameters: { priority: 1, tag: 'a', fast: true } }), []);
  assert.deepEqual(paths({ inputs: [input], parameters: 'fast' }), [
    '/parameters must be an object of strings, numbers or booleans',
  ]);
  assert.deepEqual(paths({ inputs: [input], parameters: [] }), [
    '/parameters must be an object of strings, numbers or booleans',
  ]);
  assert.deepEqual(paths({ inputs: [{ ...input, parameters: { 'a/b': { deep: 1 } } }] }), [
    '/inputs/0/parameters/a~1b must be a string, a number or a boolean',
  ]);
  assert.deepEqual(paths({ inputs: [input], outputs: [{ name: 'score', parameters: null }] }), [
    '/outputs/0/parameters must be an object of strings, numbers or booleans',
  ]);
});

test('binary tensor extension flags are taken with their types; classification is refused unless off', () => {
  assert.deepEqual(paths({ inputs: [input], parameters: { binary_data_output: false } }), []);
  assert.deepEqual(paths({ inputs: [input], parameters: { binary_data_output: true } }), []);
  assert.deepEqual(paths({ inputs: [input], parameters: { binary_data_output: 1 } }), [
    '/parameters/binary_data_output must be a boolean',
  ]);
  // Without the header, the parse attached no bytes: the size names a tensor that is not there.
  assert.deepEqual(paths({ inputs: [{ ...input, parameters: { binary_data_size: 4 } }] }), [
    '/inputs/0/parameters/binary_data_size says the tensor is binary, but the request has no Inference-Header-Content-Length',
  ]);
  assert.deepEqual(
    paths({
      inputs: [input],
      outputs: [{ name: 'score', parameters: { binary_data: 'yes', classification: 2 } }],
    }),
    [
      '/outputs/0/parameters/binary_data must be a boolean',
      '/outputs/0/parameters/classification is not supported: the gateway answers with JSON tensors',
    ],
  );
});

test('outputs, when given, name each output once', () => {
  assert.deepEqual(paths({ inputs: [input], outputs: [{ name: 'score' }] }), []);
  for (const outputs of [[], {}, null, 'score']) {
    assert.deepEqual(paths({ inputs: [input], outputs }), [
      '/outputs must be a non-empty array of {"name"}, or be left out',
    ]);
  }
  assert.deepEqual(
    paths({ inputs: [input], outputs: [{ name: 'score' }, { name: 'score' }, 'x', { name: 3 }] }),
    [
      '/outputs/1/name "score" is asked for twice',
      '/outputs/2 must be an object with a "name"',
      '/outputs/3/name must be a string',
    ],
  );
});
