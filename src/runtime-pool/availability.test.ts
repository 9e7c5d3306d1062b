import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createUpstreamPool } from './pool.js';
import { startRuntime, testConfig } from '../../test/harness/upstream-servers.js';

function recorder() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: object, msg: string) =>
    lines.push({ level, msg, fields: fields as Record<string, unknown> });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

test('a pool whose endpoints all leave rotation says so once, counts the picks that found none, and says when one is back', async () => {
  const runtimes = await Promise.all([startRuntime(), startRuntime()]);
  const { lines, logger } = recorder();
  const pool = createUpstreamPool('onnx', testConfig({ endpoints: runtimes.map((r) => r.url) }), { logger });
  const about = () => lines.filter((l) => l.msg.startsWith('upstream "onnx": endpoints'));
  try {
    await pool.start();
    assert.deepEqual(about(), [], 'nothing to say while endpoints serve');

    const [first, second] = pool.endpoints();
    pool.drain(first!.url);
    assert.deepEqual(about(), [], 'one endpoint left');
    pool.drain(second!.url);
    assert.equal(about().length, 1);
    const down = about()[0]!;
    assert.equal(down.level, 'warn');
    assert.equal(
      down.msg,
      'upstream "onnx": endpoints all out of rotation; calls to its variants fail or fall back',
    );
    assert.equal(down.fields.upstream, 'onnx');
    assert.deepEqual(down.fields.endpoints, [
      `${first!.label} draining (admin)`,
      `${second!.label} draining (admin)`,
    ]);

    // 500 calls that find no endpoint: counted, not logged one by one.
    for (let i = 0; i < 500; i++) assert.equal(pool.pick(), undefined);
    pool.drain(first!.url); // already drained: no change
    assert.equal(about().length, 1);

    pool.undrain(second!.url);
    assert.equal(about().length, 2);
    const up = about()[1]!;
    assert.equal(up.level, 'info');
    assert.equal(up.msg, 'upstream "onnx": endpoints back in rotation');
    assert.equal(up.fields.affected_total, 500);
    assert.equal(typeof up.fields.down_ms, 'number');

    const picked = pool.pick();
    assert.equal(picked?.url, second!.url);
    picked!.release('ok');
    assert.equal(about().length, 2, 'serving again says nothing more');
  } finally {
    await pool.close();
    await Promise.all(runtimes.map((r) => r.close()));
  }
});
