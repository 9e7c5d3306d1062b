import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServerTiming, round } from './server-timing.js';

test('round writes what String(Math.round(ms * 1000) / 1000) writes', () => {
  const samples = [
    0,
    -0,
    0.0004,
    0.0005,
    0.001,
    0.01,
    0.1,
    0.12,
    0.123,
    1,
    1.5,
    10.05,
    238,
    999.9996,
    1e6 + 0.007,
  ];
  let seed = 7;
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    samples.push((seed / 2 ** 31) * 10 ** ((i % 7) - 3));
  }
  for (const ms of [...samples, -1.25, -0.0004, NaN, Infinity, 1e18])
    assert.equal(round(ms), String(Math.round(ms * 1000) / 1000), `round(${ms})`);
});

test('parseServerTiming reads names, dur and desc, and ignores what it does not know', () => {
  assert.deepEqual(parseServerTiming('queue;dur=0.103, infer;dur=0.42, batch;desc="4"'), [
    { name: 'queue', dur: 0.103, desc: undefined },
    { name: 'infer', dur: 0.42, desc: undefined },
    { name: 'batch', dur: undefined, desc: '4' },
  ]);
  assert.deepEqual(
    parseServerTiming(' a ; DUR = 2 ; desc=plain ;x=1;flag, ,b;dur=;dur=x, c;desc="q";dur=1e-3,'),
    [
      { name: 'a', dur: 2, desc: 'plain' },
      { name: 'b', dur: undefined, desc: undefined },
      { name: 'c', dur: 0.001, desc: 'q' },
    ],
  );
  assert.deepEqual(parseServerTiming(''), []);
  assert.deepEqual(parseServerTiming('only'), [{ name: 'only', dur: undefined, desc: undefined }]);
});
