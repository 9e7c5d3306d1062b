import { parseArgs } from 'node:util';
import { UsageError } from './args.js';

/**
 * One flag of a command: what parses it (node:util parseArgs), what its help line says and what
 * the README's flag table must say (test/docs/readme-reference.test.ts), from one declaration.
 */
export interface FlagSpec {
  /** Without the dashes: `config` is `--config`. */
  readonly name: string;
  readonly short?: string;
  /** The value's placeholder (FILE, N); absent for a switch. */
  readonly value?: string;
  /** May be given more than once; each value is kept. */
  readonly multiple?: boolean;
  /** Shown without brackets in the usage line; the command checks it. */
  readonly required?: boolean;
  /** What applies when the flag is absent, as the help and the README show it. */
  readonly default?: string | number;
  /** One line, lower case, no final full stop. */
  readonly description: string;
}

/**
 * A command or a subcommand. A command with `subcommands` is only a group: its usage is theirs,
 * and its own `flags` are none.
 */
export interface CommandSpec {
  /** The words after `switchyard` that name it: `gateway`, `model init`, `rollout shadow add`. */
  readonly name: string;
  /** Operands after the name, as the usage shows them: `REPO NAME`. */
  readonly operands?: string;
  /** The whole form after `switchyard` when the name's words do not come first (rollout's MODEL). */
  readonly form?: string;
  /** One line: what it does. */
  readonly summary: string;
  readonly flags: readonly FlagSpec[];
  readonly subcommands?: readonly CommandSpec[];
}

/** The flag every command takes, handled before the command runs. */
export const HELP_FLAG = {
  name: 'help',
  short: 'h',
  description: 'print this help and exit',
} as const satisfies FlagSpec;

type FlagValue<F extends FlagSpec> = F extends { readonly value: string }
  ? F extends { readonly multiple: true }
    ? string[]
    : string
  : boolean;

/** What parseArgs gives for these flags, typed from their declarations (declare them `as const`). */
export type FlagValues<F extends readonly FlagSpec[]> = {
  -readonly [K in F[number] as K['name']]?: FlagValue<K>;
} & { help?: boolean };

/** `--config FILE`, `-n, --lines N`, `--dry-run`: a flag as the help and the README name it. */
export function flagLabel(flag: FlagSpec): string {
  const long = `--${flag.name}${flag.value ? ` ${flag.value}` : ''}`;
  return flag.short ? `-${flag.short}, ${long}` : long;
}

/** The flag's description with its default: the same words in the help and the README. */
export function flagMeaning(flag: FlagSpec): string {
  return flag.default === undefined ? flag.description : `${flag.description} (default: ${flag.default})`;
}

function flagSynopsis(flag: FlagSpec): string {
  const text = `--${flag.name}${flag.value ? ` ${flag.value}` : ''}`;
  if (flag.required) return text;
  return flag.multiple ? `[${text}]…` : `[${text}]`;
}

/** The commands a spec stands for: itself, or each of its subcommands. */
export function leaves(spec: CommandSpec): CommandSpec[] {
  return spec.subcommands ? spec.subcommands.flatMap(leaves) : [spec];
}

/** One line per (sub)command: `switchyard gateway --config FILE [--port N] …`. */
export function synopsis(spec: CommandSpec): string[] {
  return leaves(spec).map((leaf) =>
    [
      'switchyard',
      leaf.form ?? [leaf.name, leaf.operands].filter(Boolean).join(' '),
      ...leaf.flags.map(flagSynopsis),
    ].join(' '),
  );
}

/** Each flag of the spec and its subcommands once, in the order first met. */
export function allFlags(spec: CommandSpec): FlagSpec[] {
  const seen = new Map<string, FlagSpec>();
  for (const leaf of leaves(spec))
    for (const flag of leaf.flags) if (!seen.has(flag.name)) seen.set(flag.name, flag);
  return [...seen.values()];
}

/** `usage: …` with a line per form, as printed on stderr after a usage error. */
export function renderUsage(spec: CommandSpec): string {
  const [first, ...rest] = synopsis(spec);
  return [`usage: ${first}`, ...rest.map((line) => `       ${line}`)].join('\n') + '\n';
}

/** `--help`: the usage, what it does, the subcommands and every flag with its meaning. */
export function renderHelp(spec: CommandSpec): string {
  const parts = [renderUsage(spec).trimEnd(), spec.summary];
  if (spec.subcommands) {
    const width = Math.max(...spec.subcommands.map((sub) => sub.name.length));
    parts.push(
      [
        'commands:',
        ...spec.subcommands.map((sub) => `  ${sub.name.padEnd(width)}  ${sub.summary}`),
        `(switchyard help ${spec.name} SUBCOMMAND, or ${spec.name} SUBCOMMAND --help: one subcommand's flags)`,
      ].join('\n'),
    );
  }
  const flags = [...allFlags(spec), HELP_FLAG];
  const width = Math.max(...flags.map((flag) => flagLabel(flag).length));
  parts.push(
    ['flags:', ...flags.map((flag) => `  ${flagLabel(flag).padEnd(width)}  ${flagMeaning(flag)}`)].join('\n'),
  );
  return `${parts.join('\n\n')}\n`;
}

/**
 * node:util parseArgs over the spec's flags (and --help/-h), strict. A flag it does not know, or
 * one missing its value, is a UsageError that carries the spec, so its usage is what is printed.
 */
export function parseCommandLine<const F extends readonly FlagSpec[]>(
  spec: CommandSpec & { readonly flags: F },
  argv: string[],
  options: { positionals?: boolean } = {},
): { values: FlagValues<F>; positionals: string[] } {
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const flag of [...spec.flags, HELP_FLAG]) {
    parseOptions[flag.name] = {
      type: 'value' in flag && flag.value ? 'string' : 'boolean',
      ...(flag.short ? { short: flag.short } : {}),
      ...('multiple' in flag && flag.multiple ? { multiple: true } : {}),
    };
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: parseOptions,
      strict: true,
      allowPositionals: options.positionals ?? false,
    });
    return { values: values as FlagValues<F>, positionals };
  } catch (error) {
    if (!(error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw error;
    throw new UsageError((error as Error).message, spec);
  }
}

/** The words of `argv` that are not flags: where a subcommand's name is looked for. */
function words(argv: string[]): string[] {
  return argv.filter((arg) => !arg.startsWith('-'));
}

/**
 * The (sub)command `argv` (what follows `switchyard`) names: the command, then the subcommand
 * whose name's words appear together among the operands (`rollout fraud shadow add` is
 * `rollout shadow add`), the longest such name winning. Undefined for an unknown command.
 */
export function findCommand(commands: readonly CommandSpec[], argv: string[]): CommandSpec | undefined {
  const command = commands.find((spec) => spec.name === argv[0]);
  if (!command?.subcommands) return command;
  const operands = words(argv.slice(1)).join(' ');
  let best: CommandSpec | undefined;
  for (const sub of command.subcommands) {
    const own = sub.name.split(' ').slice(1).join(' ');
    const found = ` ${operands} `.includes(` ${own} `);
    if (found && (!best || sub.name.length > best.name.length)) best = sub;
  }
  return best ?? command;
}

/** `--help` or `-h` anywhere before a `--`. */
export function asksForHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}
