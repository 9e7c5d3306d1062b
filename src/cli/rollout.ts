import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { fileHash } from '../config/snapshot.js';
import { parseDocument } from 'yaml';
import type { Env } from '../config/interpolate.js';
import { unifiedDiff } from '../rollout/diff.js';
import { editRollout, readModel, type RolloutCommand } from '../rollout/rollout.js';
import { parsePercent } from '../rollout/weights.js';
import { ChangedMeanwhileError, replaceFileAtomically } from '../rollout/write.js';
import { LIVE_ACTIONS, ROLLOUT_LIVE_USAGE, runRolloutLive } from './rollout-live.js';
import type { TextSink } from './validate.js';

export const ROLLOUT_USAGE = `switchyard rollout MODEL set NAME=W [NAME=W ...] | promote NAME | rollback | show
                   | variant add NAME [--version V] [--upstream U] [--model M] [--after VARIANT]
                   | variant remove NAME | variant demote NAME PERCENT
                   | shadow add NAME PERCENT [--upstream U] [--model M] [--version V] | shadow remove NAME
                   | shadow promote NAME [WEIGHT] [--from VARIANT]
                   [--config FILE] [--dry-run]
  ${ROLLOUT_LIVE_USAGE}`;

const DEFAULT_CONFIG = 'config/gateway.yaml';

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
  const live = LIVE_ACTIONS.find((action) => action === argv[0]);
  if (live) return runRolloutLive(live, argv.slice(1), out, err, env);
  let parsed: ReturnType<typeof parseRolloutArgs>;
  try {
    parsed = parseRolloutArgs(argv);
  } catch (error) {
    if (
      !(error instanceof RolloutUsageError) &&
      !(error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    )
      throw error;
    err.write(`switchyard rollout: ${(error as Error).message}\nusage: ${ROLLOUT_USAGE}\n`);
    return 2;
  }
  if (parsed === 'help') {
    out.write(`usage: ${ROLLOUT_USAGE}\n`);
    return 0;
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

function parseRolloutArgs(
  argv: string[],
): 'help' | { model: string; command: RolloutCommand | 'show'; config: string; dryRun: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      'dry-run': { type: 'boolean' },
      upstream: { type: 'string' },
      model: { type: 'string' },
      version: { type: 'string' },
      after: { type: 'string' },
      from: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return 'help';
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
