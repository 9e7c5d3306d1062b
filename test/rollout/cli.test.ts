import assert from 'node:assert/strict';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseDocument } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { fileHash } from '../../src/config/snapshot.js';
import { runRollout } from '../../src/cli/rollout.js';
import { ChangedMeanwhileError, replaceFileAtomically } from '../../src/rollout/write.js';
import { PROJECT_ROOT } from '../harness/process.js';

const PRODUCTION = await readFile(join(PROJECT_ROOT, 'config', 'gateway.yaml'), 'utf8');
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-rollout-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sink() {
  const chunks: string[] = [];
  return { write: (text: string) => chunks.push(text), text: () => chunks.join('') };
}

async function rollout(argv: string[]) {
  const out = sink();
  const err = sink();
  const code = await runRollout(argv, out, err, {});
  return { code, out: out.text(), err: err.text() };
}

async function fresh(name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, PRODUCTION);
  return path;
}

test('set writes the file in one rename: same mode, no temp file left, the printed hash is what gateways report', async () => {
  const path = await fresh('set.yaml');
  await chmod(path, 0o640);
  const { code, out, err } = await rollout(['fraud', 'set', 'v2=25', '--config', path]);
  assert.equal(code, 0, err);
  const text = await readFile(path, 'utf8');
  const loaded = parseConfigText(text, {}, path);
  assert.ok(loaded.ok);
  assert.match(out, new RegExp(`^--- ${path}\n\\+\\+\\+ ${path}\n@@ `));
  assert.match(out, /^-.*weight: 90 \}$/m);
  assert.match(out, /^\+.*weight: 75 \}$/m);
  assert.match(out, /^users changing variant: 15% v1 → v2$/m);
  assert.match(
    out,
    new RegExp(`wrote ${path}; gateways serving it report file_hash ${loaded.snapshot.fileHash}\n$`),
  );
  assert.equal((await stat(path)).mode & 0o777, 0o640);
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes('rollout-')),
    [],
  );
});

test('a symlinked config stays a symlink; its target is replaced', async () => {
  const targetDir = join(dir, 'real');
  await mkdir(targetDir);
  const target = join(targetDir, 'gateway.yaml');
  await writeFile(target, PRODUCTION);
  const link = join(dir, 'link.yaml');
  await symlink(target, link);
  const { code, err } = await rollout(['fraud', 'promote', 'v2', '--config', link]);
  assert.equal(code, 0, err);
  assert.ok((await lstat(link)).isSymbolicLink());
  assert.match(await readFile(target, 'utf8'), /version: '2', weight: 100 \}/);
});

test('a refused edit exits 1 and leaves the file as it was', async () => {
  const path = await fresh('refused.yaml');
  const { code, out, err } = await rollout(['fraud', 'rollback', '--config', path]);
  assert.equal(code, 1);
  assert.equal(out, '');
  assert.match(err, /no rollback_weights: nothing to roll back to/);
  assert.equal(await readFile(path, 'utf8'), PRODUCTION);
});

test('--dry-run prints the diff and writes nothing', async () => {
  const path = await fresh('dry.yaml');
  const { code, out } = await rollout(['fraud', 'shadow', 'remove', 'v3', '--config', path, '--dry-run']);
  assert.equal(code, 0);
  assert.match(out, /^\+ {4}shadows: \[\]$/m);
  assert.match(out, /dry run: .* not written\n$/);
  assert.equal(await readFile(path, 'utf8'), PRODUCTION);
});

test('usage errors exit 2 and print the usage; --help exits 0', async () => {
  const path = await fresh('usage.yaml');
  for (const argv of [
    ['fraud'],
    ['fraud', 'set', 'v2=25%'],
    ['fraud', 'set', 'v2=101'],
    ['fraud', 'set', 'v2=1.234'],
    ['fraud', 'promote'],
    ['fraud', 'rollback', 'v1'],
    ['fraud', 'set', 'v2=5', '--version', '3'],
    ['fraud', 'shadow', 'add', 'v4'],
    ['fraud', 'shadow', 'add', 'v4', 'lots'],
    ['fraud', 'shadow', 'rename', 'v4'],
    ['fraud', 'launch', 'v4'],
    ['fraud', 'set', 'v2=5', '--frobnicate'],
    ['fraud', 'variant', 'add'],
    ['fraud', 'variant', 'rename', 'v4'],
    ['fraud', 'variant', 'demote', 'v2'],
    ['fraud', 'variant', 'demote', 'v2', 'lots'],
    ['fraud', 'variant', 'remove', 'v2', '--after', 'v1'],
    ['fraud', 'set', 'v2=5', '--after', 'v1'],
    ['fraud', 'variant', 'add', 'v4', '--from', 'v1'],
    ['fraud', 'shadow', 'promote'],
    ['fraud', 'shadow', 'promote', 'v3', '101'],
    ['fraud', 'shadow', 'promote', 'v3', '5', 'v1'],
    ['fraud', 'show', '--dry-run'],
  ]) {
    const { code, err } = await rollout([...argv, '--config', path]);
    assert.equal(code, 2, `${argv.join(' ')}: ${err}`);
    assert.match(err, /usage: switchyard rollout MODEL/);
  }
  const help = await rollout(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /shadow add NAME PERCENT/);
  assert.match(
    help.out,
    /variant add NAME \[--version V\] \[--upstream U\] \[--model M\] \[--after VARIANT\]/,
  );
  assert.match(help.out, /variant remove NAME \[--config FILE\]/);
  assert.match(help.out, /variant demote NAME PERCENT \[--config FILE\]/);
  assert.match(help.out, /shadow promote NAME \[WEIGHT\] \[--from VARIANT\]/);
  assert.equal(await readFile(path, 'utf8'), PRODUCTION);
});

test('show prints the weights in list order, the shadows and the rollback record', async () => {
  const path = await fresh('show.yaml');
  await rollout(['fraud', 'set', 'v2=30', '--config', path]);
  const { code, out } = await rollout(['fraud', 'show', '--config', path]);
  assert.equal(code, 0);
  assert.equal(
    out,
    `fraud in ${path}\n  variants (in order): v1=70 v2=30\n  shadows: v3 10%\n  rollback_weights: v1=90 v2=10\n` +
      `  file_hash: ${fileHash(parseDocument(await readFile(path, 'utf8')).toJS())}\n`,
  );
});

test('a file saved by someone else meanwhile is not overwritten', async () => {
  const path = await fresh('raced.yaml');
  await assert.rejects(
    replaceFileAtomically(path, 'new text', 'what was read before'),
    ChangedMeanwhileError,
  );
  assert.equal(await readFile(path, 'utf8'), PRODUCTION);
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes('rollout-')),
    [],
  );
});

test('variant add with its flags, then shadow promote --from and variant demote, through the command line', async () => {
  const path = await fresh('members.yaml');
  const add = await rollout([
    'fraud',
    'variant',
    'add',
    'v9',
    '--version',
    '2',
    '--after',
    'v1',
    '--config',
    path,
  ]);
  assert.equal(add.code, 0, add.err);
  assert.match(add.out, /^\+ {6}- \{ name: v9, upstream: onnx, model: fraud, version: '2', weight: 0 \}$/m);
  const promote = await rollout([
    'fraud',
    'shadow',
    'promote',
    'v3',
    '2.5',
    '--from',
    'v2',
    '--config',
    path,
  ]);
  assert.equal(promote.code, 0, promote.err);
  assert.match(promote.out, /^users changing variant: 2.5% v2 → v3$/m);
  const demote = await rollout(['fraud', 'variant', 'demote', 'v3', '10', '--config', path]);
  assert.equal(demote.code, 0, demote.err);
  assert.match(demote.out, /^users changing variant: 2.5% v3 → v2$/m);
  const show = await rollout(['fraud', 'show', '--config', path]);
  assert.match(show.out, /variants \(in order\): v1=90 v9=0 v2=10\n {2}shadows: v3 10%\n/);
});
