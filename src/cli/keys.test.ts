import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { runKeys } from './keys.js';
import { UsageError } from './args.js';

test('keys new prints a fresh key and the sha256 line to paste, never the same key twice', () => {
  const outputs: string[] = [];
  for (let i = 0; i < 2; i++) {
    let text = '';
    runKeys(['new', '--tenant', 'checkout'], { write: (chunk: string) => (text += chunk) });
    outputs.push(text);
  }
  const [first, second] = outputs.map((text) => {
    const key = /^ {2}(sk-[\w-]{32})$/m.exec(text)?.[1];
    const hash = /sha256: '([0-9a-f]{64})' # checkout, created \d{4}-\d{2}-\d{2}/.exec(text)?.[1];
    assert.ok(key && hash, text);
    assert.equal(createHash('sha256').update(key).digest('hex'), hash);
    return key;
  });
  assert.notEqual(first, second);
});

test('keys needs new and a tenant name', () => {
  assert.throws(() => runKeys(['old'], { write: () => {} }), UsageError);
  assert.throws(() => runKeys(['new'], { write: () => {} }), UsageError);
});
