import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fraudGatewayConfig, startGateway } from '../harness/gateway.js';
import { CLI, PROJECT_ROOT } from '../harness/process.js';

// ONNX Runtime (onnxruntime-node, its native binding) is the runtime's alone: the gateway's image
// does not install it, so no command but `runtime` and `dev` may load it. The preload fails the
// process that does (see its header).
const FORBID = ['--import', fileURLToPath(new URL('../harness/forbid-onnxruntime.mjs', import.meta.url))];
const FORBIDDEN = /onnxruntime is forbidden/;

function switchyard(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...FORBID, ...CLI, ...args],
      { cwd: PROJECT_ROOT, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

test('the preload really fails a process that loads ONNX Runtime: switchyard runtime', async () => {
  const result = await switchyard(['runtime', '--repository', join(tmpdir(), 'no-such-repository')]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, FORBIDDEN);
});

test('help, validate, keys, log, rollout, model hash and model init with its tensors never load ONNX Runtime', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-no-onnx-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const records = join(dir, 'predictions.jsonl');
  await writeFile(records, '');
  const commands: [string[], number][] = [
    [['help'], 0],
    [['validate', '--config', 'config/gateway.yaml'], 0],
    [['keys', 'new', '--tenant', 'ci'], 0],
    [['log', 'tail', '--file', records], 0],
    [['rollout', 'fraud', 'show', '--config', 'config/gateway.dev.yaml'], 0],
    // `model init` reads a file's tensors with ONNX Runtime only when they are not given.
    [['model', 'hash', records], 0],
    [
      [
        'model',
        'init',
        join(dir, 'repo'),
        'm',
        '--onnx',
        records,
        '--input',
        'x:FP32:2',
        '--output',
        'y:FP32:1',
      ],
      0,
    ],
    [['no-such-command'], 2],
  ];
  for (const [args, expected] of commands) {
    const result = await switchyard(args);
    assert.doesNotMatch(result.stderr, FORBIDDEN, args.join(' '));
    assert.equal(result.code, expected, `${args.join(' ')}: ${result.stderr}`);
  }
});

test('a gateway serves and drains without loading ONNX Runtime', async () => {
  const gateway = await startGateway(fraudGatewayConfig(['http://127.0.0.1:9']), { nodeArgs: FORBID });
  const metrics = await fetch(`${gateway.url}/metrics`);
  assert.equal(metrics.status, 200);
  await metrics.text();
  // The preload's exit check turns the exit status to 86 if ONNX Runtime was loaded by then.
  assert.equal(await gateway.stop(), 0);
});
