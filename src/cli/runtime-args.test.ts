import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from './args.js';
import { parseRuntimeArgs } from './runtime.js';

test('--max-json-depth: 64 by default, 1 to 1000 when given', () => {
  assert.equal(parseRuntimeArgs(['--repository', 'models']).jsonDepth, 64);
  assert.equal(parseRuntimeArgs(['--repository', 'models', '--max-json-depth', '5']).jsonDepth, 5);
  for (const bad of ['0', '1001', 'deep', '2.5']) {
    assert.throws(
      () => parseRuntimeArgs(['--repository', 'models', '--max-json-depth', bad]),
      UsageError,
      bad,
    );
  }
});
