import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from './args.js';
import { asksForHelp, findCommand, parseCommandLine, renderHelp, synopsis } from './command-spec.js';
import { COMMANDS } from './commands.js';

const GROUP = {
  name: 'tool',
  summary: 'a group',
  flags: [],
  subcommands: [
    {
      name: 'tool add',
      form: 'tool THING add NAME',
      summary: 'adds',
      flags: [
        { name: 'size', short: 's', value: 'N', default: 3, description: 'how big' },
        { name: 'tag', value: 'T', multiple: true, description: 'a label' },
        { name: 'force', description: 'even if present' },
      ],
    },
    { name: 'tool shadow add', operands: 'NAME', summary: 'adds a shadow', flags: [] },
  ],
} as const;

test('the usage, the help and the parse come from one declaration', () => {
  assert.deepEqual(synopsis(GROUP), [
    'switchyard tool THING add NAME [--size N] [--tag T]… [--force]',
    'switchyard tool shadow add NAME',
  ]);
  const help = renderHelp(GROUP.subcommands[0]);
  assert.match(help, /^usage: switchyard tool THING add NAME/);
  assert.match(help, /^ {2}-s, --size N {2}how big \(default: 3\)$/m);
  assert.match(help, /^ {2}-h, --help +print this help and exit$/m);
  const { values, positionals } = parseCommandLine(
    GROUP.subcommands[0],
    ['x', 'add', 'n', '-s', '5', '--tag', 'a', '--tag', 'b', '--force'],
    { positionals: true },
  );
  assert.deepEqual({ ...values }, { size: '5', tag: ['a', 'b'], force: true });
  assert.deepEqual(positionals, ['x', 'add', 'n']);
});

test('an unknown flag is a UsageError that carries the command it was made in', () => {
  const spec = GROUP.subcommands[0];
  assert.throws(
    () => parseCommandLine(spec, ['--sizes', '5']),
    (error: unknown) =>
      error instanceof UsageError && error.command === spec && /--sizes/.test(error.message),
  );
});

test('findCommand: the longest subcommand named among the operands, else the group', () => {
  assert.equal(findCommand([GROUP], ['tool', 'fraud', 'shadow', 'add', 'v3'])?.name, 'tool shadow add');
  assert.equal(findCommand([GROUP], ['tool', 'fraud', 'add', '--size', '2'])?.name, 'tool add');
  assert.equal(findCommand([GROUP], ['tool', 'fraud'])?.name, 'tool');
  assert.equal(findCommand([GROUP], ['other']), undefined);
  assert.equal(
    findCommand(COMMANDS, ['rollout', 'fraud', 'shadow', 'promote', 'v3'])?.name,
    'rollout shadow promote',
  );
  assert.equal(findCommand(COMMANDS, ['rollout', 'pause', 'fraud'])?.name, 'rollout pause');
});

test('--help and -h count before a --, not after', () => {
  assert.equal(asksForHelp(['x', '-h']), true);
  assert.equal(asksForHelp(['--help']), true);
  assert.equal(asksForHelp(['x', '--', '-h']), false);
  assert.equal(asksForHelp(['--helpful']), false);
});

test('within a command, a flag shared by its subcommands has one description', () => {
  for (const command of COMMANDS) {
    const seen = new Map<string, string>();
    for (const sub of command.subcommands ?? [command]) {
      for (const flag of sub.flags) {
        const before = seen.get(flag.name);
        assert.ok(before === undefined || before === flag.description, `${command.name} --${flag.name}`);
        seen.set(flag.name, flag.description);
      }
    }
  }
});
