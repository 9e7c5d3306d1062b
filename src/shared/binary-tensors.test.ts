import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BinaryBodyError,
  attachBinary,
  binaryInputs,
  binaryOf,
  binaryOutputWanted,
  decodeBinary,
  encodeValues,
  splitBody,
} from './binary-tensors.js';

const input = (datatype: string, shape: number[], size: number) => ({
  name: 'x',
  datatype,
  shape,
  parameters: { binary_data_size: size },
});

test('splitBody: no header is all JSON; the header must be a whole number within the body', () => {
  const body = Buffer.from('{"a":1}abcd');
  assert.deepEqual(splitBody(body, undefined), { json: body, tensors: undefined });
  const { json, tensors } = splitBody(body, '7');
  assert.equal(json.toString(), '{"a":1}');
  assert.equal(tensors!.toString(), 'abcd');
  for (const bad of ['12', '-1', '7.0', ' 7', '', ['7', '7']]) {
    assert.throws(() => splitBody(body, bad), BinaryBodyError, JSON.stringify(bad));
  }
});

test('binaryInputs: sizes are what shape × datatype need and add up to the bytes exactly', () => {
  const tensors = Buffer.alloc(4 * 6 + 3);
  const request = {
    inputs: [
      input('FP32', [2, 3], 24),
      { name: 'j', datatype: 'INT32', shape: [1], data: [1] },
      input('BOOL', [3], 3),
    ],
  };
  const slices = binaryInputs(request, tensors)!;
  assert.equal(slices[0]!.length, 24);
  assert.equal(slices[1], undefined);
  assert.equal(slices[2]!.length, 3);
  assert.equal(slices[2]!.byteOffset - slices[0]!.byteOffset, 24, 'slices of the body, in order');
  assert.equal(binaryInputs({ inputs: [{ name: 'j', data: [1] }] }, undefined), undefined);
  const fails = (request: unknown, bytes: Buffer | undefined, message: RegExp) =>
    assert.throws(() => binaryInputs(request, bytes), message);
  fails({ inputs: [input('FP32', [2, 3], 20)] }, Buffer.alloc(20), /needs 24/);
  fails({ inputs: [input('FP32', [2, 3], 24)] }, Buffer.alloc(20), /only 20 remain/);
  fails({ inputs: [input('FP32', [1], 4)] }, Buffer.alloc(5), /1 bytes after the JSON/);
  fails({ inputs: [] }, Buffer.alloc(1), /1 bytes after the JSON/);
  fails({ inputs: [input('FP32', [1], 4)] }, undefined, /Inference-Header-Content-Length/);
  fails({ inputs: [input('FP32', [1], 1.5)] }, Buffer.alloc(4), /non-negative whole number/);
  fails({ inputs: [input('COMPLEX', [1], 4)] }, Buffer.alloc(4), /has no binary form/);
  fails({ inputs: [{ ...input('FP32', [1], 4), data: [1] }] }, Buffer.alloc(4), /not both/);
  // BYTES: 4-byte little-endian lengths that must fill the stated size with exactly shape's elements.
  const two = Buffer.from([1, 0, 0, 0, 0x61, 2, 0, 0, 0, 0x62, 0x63]);
  assert.equal(binaryInputs({ inputs: [input('BYTES', [2], 11)] }, two)![0]!.length, 11);
  fails({ inputs: [input('BYTES', [3], 11)] }, two, /exactly 3 length-prefixed/);
  assert.deepEqual(decodeBinary('BYTES', two), ['a', 'bc']);
});

test('attachBinary: the bytes ride hidden from JSON, and data decodes on first read', () => {
  const bytes = encodeValues('FP32', [1.5, -2]);
  const tensor: Record<string, unknown> = { name: 'x', datatype: 'FP32', shape: [2] };
  attachBinary(tensor, bytes);
  assert.equal(JSON.stringify(tensor), '{"name":"x","datatype":"FP32","shape":[2]}');
  assert.equal(binaryOf(tensor), bytes);
  assert.deepEqual(tensor.data, [1.5, -2]);
  assert.equal(JSON.stringify(tensor), '{"name":"x","datatype":"FP32","shape":[2]}');
  assert.equal(binaryOf({ data: [1] }), undefined);
});

test("encodeValues and decodeBinary are each other's inverse, little-endian", () => {
  const cases: [string, unknown[]][] = [
    ['BOOL', [true, false, true]],
    ['INT8', [-128, 127]],
    ['UINT16', [0, 65535]],
    ['INT32', [-2147483648, 7]],
    ['INT64', [-(2 ** 53) + 1, 2 ** 53 - 1]],
    ['FP32', [0.5, Math.fround(-1e-45), 3.4028234663852886e38]],
    ['FP64', [Math.PI, 5e-324]],
  ];
  for (const [datatype, values] of cases) {
    assert.deepEqual(decodeBinary(datatype, encodeValues(datatype, values)), values, datatype);
  }
  assert.deepEqual([...encodeValues('INT32', [1])], [1, 0, 0, 0]);
});

test("binaryOutputWanted: an output's binary_data overrides binary_data_output", () => {
  assert.equal(binaryOutputWanted({ inputs: [] }), undefined);
  assert.equal(
    binaryOutputWanted({ outputs: [{ name: 'a', parameters: { binary_data: false } }] }),
    undefined,
  );
  const all = binaryOutputWanted({ parameters: { binary_data_output: true } })!;
  assert.equal(all('anything'), true);
  const mixed = binaryOutputWanted({
    parameters: { binary_data_output: true },
    outputs: [{ name: 'a', parameters: { binary_data: false } }, { name: 'b' }],
  })!;
  assert.deepEqual([mixed('a'), mixed('b')], [false, true]);
  const one = binaryOutputWanted({
    outputs: [{ name: 'a', parameters: { binary_data: true } }, { name: 'b' }],
  })!;
  assert.deepEqual([one('a'), one('b')], [true, false]);
});
