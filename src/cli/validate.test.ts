// Tests src/cli/validate.ts; it sits here only because src/cli/ belonged to another change at the time.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { runValidate } from './validate.js';

function sink(): { text: string; write(chunk: string): void } {
  return {
    text: '',
    write(chunk: string) {
      this.text += chunk;
    },
  };
}

test('a valid file prints ok with its hash and exits 0', async () => {
  const path = fileURLToPath(new URL('../../config/gateway.yaml', import.meta.url));
  const [out, err] = [sink(), sink()];
  assert.equal(await runValidate(['--config', path], out, err, {}), 0);
  assert.match(out.text, new RegExp(`^ok ${path} hash [0-9a-f]{16} file_hash [0-9a-f]{16}\\n$`));
  assert.equal(err.text, '');
});

test('an invalid file prints every problem with its path and exits 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-validate-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'gateway.yaml');
  await writeFile(
    path,
    [
      'upstreams: { onnx: { endpoints: ["http://127.0.0.1:8001"] } }',
      'models:',
      '  fraud:',
      '    routing: { salt: s }',
      '    variants: [{ name: v1, upstream: gpu, model: m, version: "1", weight: 90 }]',
    ].join('\n'),
  );
  const [out, err] = [sink(), sink()];
  assert.equal(await runValidate([`--config=${path}`], out, err, {}), 1);
  assert.equal(out.text, '');
  assert.equal(
    err.text,
    [
      '/models/fraud/variants: weights sum to 90, not 100',
      '/models/fraud/variants/0/upstream: unknown upstream "gpu" (upstreams: onnx)',
      `${path}: 2 problems`,
      '',
    ].join('\n'),
  );
});

test('usage errors exit 2', async () => {
  for (const argv of [[], ['--config'], ['--bogus', 'x'], ['gateway.yaml']]) {
    const [out, err] = [sink(), sink()];
    assert.equal(await runValidate(argv, out, err, {}), 2, JSON.stringify(argv));
    assert.match(err.text, /usage: switchyard validate --config FILE/);
  }
});
