import { readFile } from 'node:fs/promises';
import { fileHash } from '../config/snapshot.js';
import { parseDocument } from 'yaml';
import type { Env } from '../config/interpolate.js';
import { unifiedDiff } from '../rollout/diff.js';
import { editRollout, readModel, type RolloutCommand } from '../rollout/rollout.js';
import { parsePercent } from '../rollout/weights.js';
import { ChangedMeanwhileError, replaceFileAtomically } from '../rollout/write.js';
import { UsageError } from './args.js';
import {
  asksForHelp,
  findCommand,
  parseCommandLine,
  renderHelp,
  renderUsage,
  type CommandSpec,
  type FlagSpec,
} from './command-spec.js';
import { LIVE_ACTIONS, ROLLOUT_LIVE_SPECS, runRolloutLive } from './rollout-live.js';
import type { TextSink } from './validate.js';

const DEFAULT_CONFIG = 'config/gateway.yaml';

const CONFIG_FLAG = {
  name: 'config',
  short: 'c',
  value: 'FILE',
  default: DEFAULT_CONFIG,
  description: 'the config file to edit in place',
} as const satisfies FlagSpec;
const DRY_RUN_FLAG = {
  name: 'dry-run',
  description: 'print the diff and write nothing',
} as const satisfies FlagSpec;
const VERSION_FLAG = {
  name: 'version',
  value: 'V',
  description: 'the version on the runtime (default: read from a name like v4)',
} as const satisfies FlagSpec;
const UPSTREAM_FLAG = {
  name: 'upstream',
  value: 'U',
  description:
    'the upstream it calls (default: that of the variant it follows, for a shadow the first variant)',
} as const satisfies FlagSpec;
const MODEL_FLAG = {
  name: 'model',
  value: 'M',
  description: 'the model name on the runtime (default: as --upstream)',
} as const satisfies FlagSpec;
const AFTER_FLAG = {
  name: 'after',
  value: 'VARIANT',
  default: 'the last variant',
  description: 'the variant it is listed after',
} as const satisfies FlagSpec;
const FROM_FLAG = {
  name: 'from',
  value: 'VARIANT',
  default: 'the variant with the most weight',
  description: 'the variant whose users it takes',
} as const satisfies FlagSpec;
const EDIT_FLAGS = [CONFIG_FLAG, DRY_RUN_FLAG] as const;

const edit = <const S extends Omit<CommandSpec, 'name'> & { verb: string }>(spec: S) =>
  ({ ...spec, name: `rollout ${spec.verb}` }) as const;

/** What edits the file: MODEL comes before the subcommand's words. */
const ROLLOUT_EDIT_SPECS = [
  edit({
    verb: 'set',
    form: 'rollout MODEL set NAME=W [NAME=W ...]',
    summary:
      "sets variants' weights (percent); a single NAME=W trades users with the nearest variant before NAME that has weight; records the weights before in rollback_weights",
    flags: EDIT_FLAGS,
  }),
  edit({
    verb: 'promote',
    form: 'rollout MODEL promote NAME',
    summary:
      'gives NAME every user (weight 100, the others 0); records the weights before in rollback_weights',
    flags: EDIT_FLAGS,
  }),
  edit({
    verb: 'rollback',
    form: 'rollout MODEL rollback',
    summary: 'restores rollback_weights and removes them (a variant added since goes to 0)',
    flags: EDIT_FLAGS,
  }),
  edit({
    verb: 'show',
    form: 'rollout MODEL show',
    summary:
      "the model's weights in order, its shadows, its rollback_weights and the file_hash gateways report",
    flags: [CONFIG_FLAG],
  }),
  edit({
    verb: 'variant add',
    form: 'rollout MODEL variant add NAME',
    summary: 'a variant at weight 0 after --after, on the upstream and model of the variant it follows',
    flags: [VERSION_FLAG, UPSTREAM_FLAG, MODEL_FLAG, AFTER_FLAG, ...EDIT_FLAGS],
  }),
  edit({
    verb: 'variant remove',
    form: 'rollout MODEL variant remove NAME',
    summary: 'removes a variant at weight 0 that no rollout policy or fallback step names',
    flags: EDIT_FLAGS,
  }),
  edit({
    verb: 'variant demote',
    form: 'rollout MODEL variant demote NAME PERCENT',
    summary:
      "the variant's users go back where they came from (as set NAME=0) and it becomes a shadow mirroring PERCENT",
    flags: EDIT_FLAGS,
  }),
  edit({
    verb: 'shadow add',
    form: 'rollout MODEL shadow add NAME PERCENT',
    summary: "mirrors PERCENT of the model's requests to NAME (or changes an existing shadow's fields)",
    flags: [UPSTREAM_FLAG, MODEL_FLAG, VERSION_FLAG, ...EDIT_FLAGS],
  }),
  edit({
    verb: 'shadow remove',
    form: 'rollout MODEL shadow remove NAME',
    summary: 'stops mirroring to the shadow and deletes it',
    flags: EDIT_FLAGS,
  }),
  edit({
    verb: 'shadow promote',
    form: 'rollout MODEL shadow promote NAME [WEIGHT]',
    summary:
      "the shadow becomes a variant listed after --from, taking WEIGHT (default 0) of that variant's users only",
    flags: [FROM_FLAG, ...EDIT_FLAGS],
  }),
] as const;

export const ROLLOUT_SPEC = {
  name: 'rollout',
  summary:
    "edits one model's weights and shadows in the config file (validated, written in one rename, the diff printed), or acts on a running gateway's rollout",
  flags: [],
  subcommands: [...ROLLOUT_EDIT_SPECS, ...ROLLOUT_LIVE_SPECS],
} as const satisfies CommandSpec;

/** The flags of every subcommand that edits the file; which goes with which is checked after parsing. */
const EDIT_PARSE_SPEC = {
  ...ROLLOUT_SPEC,
  flags: [CONFIG_FLAG, DRY_RUN_FLAG, VERSION_FLAG, UPSTREAM_FLAG, MODEL_FLAG, AFTER_FLAG, FROM_FLAG],
} as const;

class RolloutUsageError extends Error {}

/**
 * `switchyard rollout ...` (argv is what follows `rollout`): edits one model's weights or shadows
 * in the config file in place, validates the result as the gateway would, replaces the file in one
 * rename and prints the diff; running gateways pick the file up. Exit codes: 0 done (or nothing to
 * change), 1 refused (nothing written), 2 usage error.
 */
export async function runRollout(
  argv: string[],
  out: TextSink,
  err: TextSink,
  env: Env = process.env,
): Promise<number> {
  // The subcommand named, if any: whose usage a mistake prints, and whose help --help prints.
  const named = findCommand([ROLLOUT_SPEC], ['rollout', ...argv]) ?? ROLLOUT_SPEC;
  if (asksForHelp(argv)) {
    out.write(renderHelp(named));
    return 0;
  }
  const live = LIVE_ACTIONS.find((action) => action === argv[0]);
  if (live) return runRolloutLive(live, argv.slice(1), out, err, env);
  let parsed: ReturnType<typeof parseRolloutArgs>;
  try {
    parsed = parseRolloutArgs(argv);
  } catch (error) {
    if (!(error instanceof RolloutUsageError) && !(error instanceof UsageError)) throw error;
    err.write(`switchyard rollout: ${error.message}\n${renderUsage(named)}`);
    return 2;
  }
  const { model, command, config, dryRun } = parsed;

  let source: string;
  try {
    source = await readFile(config, 'utf8');
  } catch (error) {
    err.write(`switchyard rollout: cannot read ${config}: ${(error as Error).message}\n`);
    return 1;
  }
  if (command === 'show') return show(source, model, config, out, err);

  const edit = editRollout(source, model, command, env, config);
  if (!edit.ok) {
    err.write(`switchyard rollout: ${edit.problems.join('\n')}\n`);
    return 1;
  }
  if (!edit.changed) {
    out.write(`${edit.notes.join('\n')}; ${config} left as it is\n`);
    return 0;
  }
  out.write(unifiedDiff(source, edit.text, config));
  for (const note of edit.notes) out.write(`${note}\n`);
  if (dryRun) {
    out.write(`dry run: ${config} not written\n`);
    return 0;
  }
  try {
    await replaceFileAtomically(config, edit.text, source);
  } catch (error) {
    if (!(error instanceof ChangedMeanwhileError)) throw error;
    err.write(`switchyard rollout: ${error.message}\n`);
    return 1;
  }
  // The file hash, not the settings hash: the gateway fills ${VAR}s from its own environment,
  // which this shell need not share (`switchyard dev` sets SWITCHYARD_RUNTIME_URL for its gateway).
  out.write(`wrote ${config}; gateways serving it report file_hash ${edit.fileHash}\n`);
  return 0;
}

function parseRolloutArgs(argv: string[]): {
  model: string;
  command: RolloutCommand | 'show';
  config: string;
  dryRun: boolean;
} {
  const { values, positionals } = parseCommandLine(EDIT_PARSE_SPEC, argv, { positionals: true });
  const [model, verb, ...rest] = positionals;
  if (!model || !verb) throw new RolloutUsageError('give a model and what to do');
  const command = parseCommand(verb, rest);
  const takes = (
    flag: 'upstream' | 'model' | 'version' | 'after' | 'from',
    verbs: string[],
    where: string,
  ) => {
    if (values[flag] === undefined) return;
    if (command === 'show' || !verbs.includes(command.verb))
      throw new RolloutUsageError(`--${flag} goes with ${where}`);
    (command as Record<string, unknown>)[flag] = values[flag];
  };
  for (const flag of ['upstream', 'model', 'version'] as const)
    takes(flag, ['shadow-add', 'variant-add'], 'shadow add and variant add');
  takes('after', ['variant-add'], 'variant add');
  takes('from', ['shadow-promote'], 'shadow promote');
  // show writes nothing: a --dry-run there is a mistake worth saying, not a flag to ignore.
  if (command === 'show' && values['dry-run'])
    throw new RolloutUsageError(
      '--dry-run goes with the subcommands that edit the file; show writes nothing',
    );
  return { model, command, config: values.config ?? DEFAULT_CONFIG, dryRun: values['dry-run'] ?? false };
}

function parseCommand(verb: string, rest: string[]): RolloutCommand | 'show' {
  const arity = (count: number, form: string) => {
    if (rest.length !== count) throw new RolloutUsageError(`${verb} takes ${form}`);
  };
  switch (verb) {
    case 'set': {
      if (rest.length === 0) throw new RolloutUsageError('set takes NAME=W ...');
      const assignments = rest.map((text) => {
        const match = /^([^=]+)=(.*)$/.exec(text);
        const weight = match ? parsePercent(match[2]!) : undefined;
        if (!match || weight === undefined)
          throw new RolloutUsageError(
            `"${text}" is not NAME=W with W a percent (0-100, two decimals at most)`,
          );
        return { name: match[1]!, weight };
      });
      return { verb: 'set', assignments };
    }
    case 'promote':
      arity(1, 'one variant name');
      return { verb: 'promote', variant: rest[0]! };
    case 'rollback':
      arity(0, 'no arguments');
      return { verb: 'rollback' };
    case 'show':
      arity(0, 'no arguments');
      return 'show';
    case 'shadow': {
      const [action, name, amount] = rest;
      if (action === 'add') {
        arity(3, 'add NAME PERCENT');
        return { verb: 'shadow-add', name: name!, percent: percentArgument(amount!) };
      }
      if (action === 'remove') {
        arity(2, 'remove NAME');
        return { verb: 'shadow-remove', name: name! };
      }
      if (action === 'promote') {
        if (rest.length !== 2 && rest.length !== 3)
          throw new RolloutUsageError('shadow takes promote NAME [WEIGHT]');
        const weight = amount === undefined ? 0 : parsePercent(amount);
        if (weight === undefined)
          throw new RolloutUsageError(`"${amount}" is not a weight (0-100, two decimals at most)`);
        return { verb: 'shadow-promote', name: name!, weight };
      }
      throw new RolloutUsageError('shadow takes add, remove or promote');
    }
    case 'variant': {
      const [action, name, amount] = rest;
      if (action === 'add') {
        arity(2, 'add NAME');
        return { verb: 'variant-add', name: name! };
      }
      if (action === 'remove') {
        arity(2, 'remove NAME');
        return { verb: 'variant-remove', name: name! };
      }
      if (action === 'demote') {
        arity(3, 'demote NAME PERCENT');
        return { verb: 'variant-demote', name: name!, percent: percentArgument(amount!) };
      }
      throw new RolloutUsageError('variant takes add, remove or demote');
    }
    default:
      throw new RolloutUsageError(`unknown rollout action "${verb}"`);
  }
}

/** A shadow's share of requests: a percent in 0..100. */
function percentArgument(text: string): number {
  const percent = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(percent >= 0 && percent <= 100)) throw new RolloutUsageError(`"${text}" is not a percent`);
  return percent;
}

/** What the file says about one model: weights in list order, shadows, and the rollback record. */
function show(source: string, model: string, config: string, out: TextSink, err: TextSink): number {
  const doc = parseDocument(source);
  const asWritten: unknown = doc.errors.length > 0 ? undefined : doc.toJS({ maxAliasCount: 100 });
  const view = doc.errors.length > 0 ? doc.errors[0]!.message : readModel(asWritten, model, config);
  if (typeof view === 'string') {
    err.write(`switchyard rollout: ${view}\n`);
    return 1;
  }
  const lines = [
    `${model} in ${config}`,
    `  variants (in order): ${view.variants.map((v) => `${v.name}=${v.weight}`).join(' ')}`,
    `  shadows: ${view.shadows.map((s) => `${String(s.name)} ${String(s.percent)}%`).join(', ') || 'none'}`,
    `  rollback_weights: ${
      view.rollback
        ? Object.entries(view.rollback)
            .map(([name, weight]) => `${name}=${weight}`)
            .join(' ')
        : 'none'
    }`,
    // What gateways serving this file report as file_hash (GET /admin/config, switchyard_config_info).
    `  file_hash: ${fileHash(asWritten)}`,
  ];
  out.write(`${lines.join('\n')}\n`);
  return 0;
}
