import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { allFlags, flagLabel, flagMeaning, synopsis, type CommandSpec } from '../../src/cli/command-spec.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { PROJECT_ROOT } from '../harness/process.js';

// The built command, as `npx switchyard` runs it (npm run build first; npm test does).
const MAIN = join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function switchyard(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SWITCHYARD_ADMIN_KEY: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Every command and every subcommand: the groups (`model`) and what they hold (`model init`). */
function everySpec(specs: readonly CommandSpec[]): CommandSpec[] {
  return specs.flatMap((spec) => [spec, ...everySpec(spec.subcommands ?? [])]);
}

/** The words that name a spec on the command line; rollout's file edits take a model first. */
function words(spec: CommandSpec): string[] {
  const [command, ...rest] = spec.name.split(' ');
  return spec.form?.includes(' MODEL ') ? [command!, 'fraud', ...rest] : [command!, ...rest];
}

/** Runs `check` over `items`, `limit` at a time: the machine is shared. */
async function eachLimited<T>(items: T[], limit: number, check: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await check(items[next++]!);
    }),
  );
}

before(async () => {
  // A stale build would test yesterday's help: every module of src/cli must be older than its build.
  for (const file of await readdir(join(PROJECT_ROOT, 'src', 'cli'))) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
    const built = join(PROJECT_ROOT, 'dist', 'src', 'cli', file.replace(/\.ts$/, '.js'));
    const [source, output] = await Promise.all([
      stat(join(PROJECT_ROOT, 'src', 'cli', file)),
      stat(built).catch(() => undefined),
    ]);
    assert.ok(output, `${built} is missing: run npm run build first`);
    assert.ok(output.mtimeMs >= source.mtimeMs, `${built} is older than src/cli/${file}: run npm run build`);
  }
});

test('the top-level usage (no command, help, --help, -h) lists every command and subcommand', async () => {
  for (const args of [[], ['help'], ['--help'], ['-h']]) {
    const run = await switchyard(args);
    assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
    assert.equal(run.stderr, '');
    for (const line of COMMANDS.flatMap(synopsis)) assert.ok(run.stdout.includes(line), `${args}: ${line}`);
  }
});

test('every command and subcommand answers --help, -h and switchyard help: exit 0, usage and flags on stdout', async () => {
  const specs = everySpec(COMMANDS);
  assert.ok(specs.length > COMMANDS.length, 'subcommands are listed');
  await eachLimited(specs, 3, async (spec) => {
    const name = words(spec);
    for (const args of [
      [...name, '--help'],
      [...name, '-h'],
      ['help', ...spec.name.split(' ')],
    ]) {
      const run = await switchyard(args);
      const what = `switchyard ${args.join(' ')}`;
      assert.equal(run.code, 0, `${what}: ${run.stderr}`);
      assert.equal(run.stderr, '', what);
      assert.match(run.stdout, /^usage: switchyard /, what);
      for (const line of synopsis(spec)) assert.ok(run.stdout.includes(line), `${what} shows ${line}`);
      assert.ok(run.stdout.includes(spec.summary), `${what} says what it does`);
      for (const flag of allFlags(spec)) {
        assert.ok(
          run.stdout.includes(`${flagLabel(flag)}`) && run.stdout.includes(flagMeaning(flag)),
          `${what} explains ${flagLabel(flag)}`,
        );
      }
      for (const sub of spec.subcommands ?? [])
        assert.ok(run.stdout.includes(sub.summary), `${what} lists ${sub.name}`);
    }
  });
});

test('an unknown flag exits 2 with the usage of that (sub)command on stderr, nothing on stdout', async () => {
  const leaves = everySpec(COMMANDS).filter((spec) => !spec.subcommands);
  await eachLimited(leaves, 3, async (spec) => {
    const args = [...words(spec), '--no-such-flag'];
    const run = await switchyard(args);
    const what = `switchyard ${args.join(' ')}`;
    assert.equal(run.code, 2, `${what}: ${run.stdout}${run.stderr}`);
    assert.equal(run.stdout, '', what);
    assert.match(run.stderr, /Unknown option '--no-such-flag'/, what);
    assert.ok(run.stderr.includes(`usage: ${synopsis(spec)[0]}`), `${what}: ${run.stderr}`);
  });
});

test('an unknown command, or help for one, exits 2 with every command on stderr', async () => {
  for (const args of [['frobnicate'], ['help', 'frobnicate']]) {
    const run = await switchyard(args);
    assert.equal(run.code, 2, args.join(' '));
    assert.match(run.stderr, /unknown command "frobnicate"/);
    for (const line of COMMANDS.flatMap(synopsis)) assert.ok(run.stderr.includes(line), line);
  }
});
