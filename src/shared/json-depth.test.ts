import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonDepthExceeds } from './json-depth.js';

/** The nesting depth of a parsed value, as the scanner should count it from its text. */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

/** The depth the scanner finds: the smallest limit it does not report as exceeded. */
function scannedDepth(text: string): number {
  let limit = 0;
  while (jsonDepthExceeds(text, limit)) limit++;
  return limit;
}

test('scalars and empty containers', () => {
  assert.equal(scannedDepth('1'), 0);
  assert.equal(scannedDepth('"text"'), 0);
  assert.equal(scannedDepth('{}'), 1);
  assert.equal(scannedDepth('[]'), 1);
  assert.equal(scannedDepth('[[],{}]'), 2);
  assert.equal(scannedDepth(''), 0);
});

test('exactly at the limit passes, one level over does not', () => {
  for (const limit of [1, 2, 64, 1000]) {
    const at = '['.repeat(limit) + ']'.repeat(limit);
    const over = '{"a":'.repeat(limit + 1) + '1' + '}'.repeat(limit + 1);
    assert.equal(jsonDepthExceeds(at, limit), false, `${limit} levels under a limit of ${limit}`);
    assert.equal(jsonDepthExceeds(over, limit), true, `${limit + 1} levels under a limit of ${limit}`);
  }
});

test('depth is the deepest branch, not the count of brackets', () => {
  const wide = JSON.stringify({ a: [[1]], b: [[2]], c: { d: [3] } });
  assert.equal(scannedDepth(wide), 3);
  assert.equal(jsonDepthExceeds(JSON.stringify(Array.from({ length: 1000 }, () => [[0]])), 3), false);
});

test('brackets inside strings do not count', () => {
  assert.equal(scannedDepth('{"a":"[[[[{{{{"}'), 1);
  assert.equal(scannedDepth('["]]]]", ["[[["]]'), 2);
  assert.equal(scannedDepth(`{"${'['.repeat(100)}": 1}`), 1);
});

test('an escaped quote does not end a string; an escaped backslash before a quote does', () => {
  // "\"[[[" is one string: the brackets are in it.
  assert.equal(scannedDepth(String.raw`["\"[[[", 1]`), 1);
  // "\\" ends after the escaped backslash: the brackets after it count.
  assert.equal(scannedDepth(String.raw`["\\", [[1]]]`), 3);
  // Three backslashes then a quote: an escaped backslash, then an escaped quote; still in the string.
  assert.equal(scannedDepth(String.raw`["\\\"[[", [1]]`), 2);
  assert.equal(scannedDepth(String.raw`{"k\\":[{"\"]":"\\\\"}]}`), 3);
});

test('the scanner agrees with the parsed depth of real bodies', () => {
  const bodies: unknown[] = [
    { features: { amount: 12.5, hour: 3 }, user_id: 'u-1' },
    {
      instances: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    },
    {
      id: 'r"1',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 2], data: [[0.5, 1]] }],
      parameters: { note: 'a \\ and a " and [ { brackets', nested: { x: [1, { y: ['}'] }] } },
      outputs: [{ name: 'score' }],
    },
  ];
  for (const body of bodies) {
    const text = JSON.stringify(body);
    assert.equal(scannedDepth(text), depthOf(body), text);
  }
});

test('100,000 levels are found without recursion, and early', () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  assert.equal(jsonDepthExceeds(deep, 64), true);
  assert.equal(jsonDepthExceeds(deep, 100_000), false);
});

test('text that is not JSON is left for JSON.parse to refuse', () => {
  assert.equal(jsonDepthExceeds('{"unterminated: [[[[', 2), false);
  assert.equal(jsonDepthExceeds(']]]]', 2), false);
});
