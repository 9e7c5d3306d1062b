import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from './args.js';
import { parseGatewayArgs } from './gateway.js';

test('--poll-ms: absent leaves the watcher its default; given, a whole number above 0', () => {
  assert.equal(parseGatewayArgs(['--config', 'g.yaml']).pollMs, undefined);
  assert.equal(parseGatewayArgs(['--config', 'g.yaml', '--poll-ms', '200']).pollMs, 200);
  // 0 used to pass the check and then read as "not given" (1000 ms): refused now, like any nonsense.
  for (const bad of ['0', '-5', 'often', '2.5']) {
    assert.throws(() => parseGatewayArgs(['--config', 'g.yaml', '--poll-ms', bad]), UsageError, bad);
  }
});
