import { loadConfigFile } from '../config/load.js';
import type { Env } from '../config/interpolate.js';
import { followLines, lastLines, logFiles, readRecords } from '../telemetry/prediction-log/read.js';
import { LogStatsBuilder, type ModelLogStats } from '../telemetry/prediction-log/stats.js';
import { UsageError } from './args.js';
import {
  findCommand,
  parseCommandLine,
  renderHelp,
  renderUsage,
  type CommandSpec,
  type FlagSpec,
  type FlagValues,
} from './command-spec.js';
import type { TextSink } from './validate.js';

/** The gateway's default, relative to the working directory as the gateway's is. */
const DEFAULT_FILE = 'switchyard-predictions.jsonl';

const FILE_FLAG = {
  name: 'file',
  short: 'f',
  value: 'F',
  default: DEFAULT_FILE,
  description: 'the prediction log file (its rotated siblings F.1, F.2, … are read too)',
} as const satisfies FlagSpec;
const CONFIG_FLAG = {
  name: 'config',
  short: 'c',
  value: 'FILE',
  description: "read the file from this gateway config's prediction_log.path, instead of --file",
} as const satisfies FlagSpec;

export const LOG_TAIL_SPEC = {
  name: 'log tail',
  summary: 'the last prediction records as JSON lines, then (--follow) new ones until Ctrl-C',
  flags: [
    { name: 'lines', short: 'n', value: 'N', default: 10, description: 'how many records to print first' },
    { name: 'follow', description: 'keep printing records as they are written, until Ctrl-C' },
    FILE_FLAG,
    CONFIG_FLAG,
  ],
} as const satisfies CommandSpec;

export const LOG_STATS_SPEC = {
  name: 'log stats',
  summary: "one model's requests and decisions per variant, its fallbacks, and primary/shadow agreement",
  flags: [
    {
      name: 'model',
      short: 'm',
      value: 'M',
      required: true,
      description: 'the model, as the gateway names it',
    },
    { name: 'json', description: 'print the figures as one JSON document' },
    FILE_FLAG,
    CONFIG_FLAG,
  ],
} as const satisfies CommandSpec;

export const LOG_SPEC = {
  name: 'log',
  summary: 'reads the prediction log the gateway writes (and its rotated files)',
  flags: [],
  subcommands: [LOG_TAIL_SPEC, LOG_STATS_SPEC],
} as const satisfies CommandSpec;

/**
 * `switchyard log ...` (argv is what follows `log`): reads the prediction log file and its rotated
 * siblings. `tail` prints the last records as JSON lines and, with --follow, what is appended
 * until `signal` aborts (Ctrl-C); `stats` folds one model's records into per-variant decisions,
 * fallbacks and primary-versus-shadow agreement. Exit codes: 0 done, 1 nothing to read, 2 usage.
 */
export async function runLog(
  argv: string[],
  out: TextSink,
  err: TextSink,
  options: { signal?: AbortSignal; env?: Env } = {},
): Promise<number> {
  let parsed: ReturnType<typeof parseLogArgs>;
  try {
    parsed = parseLogArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err.write(`switchyard log: ${error.message}\n${renderUsage(error.command ?? LOG_SPEC)}`);
    return 2;
  }
  if (parsed.command === 'help') {
    out.write(renderHelp(parsed.spec));
    return 0;
  }
  let file = parsed.file ?? DEFAULT_FILE;
  if (parsed.config) {
    const loaded = await loadConfigFile(parsed.config, options.env ?? process.env);
    if (!loaded.ok) {
      err.write(
        `switchyard log: ${parsed.config} is not valid; run switchyard validate --config ${parsed.config}\n`,
      );
      return 1;
    }
    file = loaded.snapshot.config.prediction_log.path;
  }
  const files = await logFiles(file);
  if (parsed.command === 'tail') {
    if (files.length === 0 && !parsed.follow) {
      err.write(`switchyard log: no prediction log at ${file}\n`);
      return 1;
    }
    for (const line of await lastLines(files, parsed.lines)) out.write(`${line}\n`);
    if (parsed.follow) {
      await followLines(
        file,
        (line) => out.write(`${line}\n`),
        options.signal ?? new AbortController().signal,
      );
    }
    return 0;
  }
  if (files.length === 0) {
    err.write(`switchyard log: no prediction log at ${file}\n`);
    return 1;
  }
  const unreadable = { lines: 0 };
  const builder = new LogStatsBuilder(parsed.model);
  for await (const record of readRecords(files, unreadable)) builder.add(record);
  const stats = builder.build();
  if (parsed.json) {
    out.write(`${JSON.stringify({ files, unreadable_lines: unreadable.lines, ...stats }, null, 2)}\n`);
  } else {
    out.write(renderStats(stats, files, unreadable.lines));
  }
  return 0;
}

type LogArgs =
  | { command: 'help'; spec: CommandSpec }
  | { command: 'tail'; lines: number; follow: boolean; file?: string; config?: string }
  | { command: 'stats'; model: string; json: boolean; file?: string; config?: string };

function parseLogArgs(argv: string[]): LogArgs {
  const spec = findCommand([LOG_SPEC], ['log', ...argv]) ?? LOG_SPEC;
  // A subcommand takes its own flags; before one is named, any of them parses (to say which is missing).
  const flags = spec === LOG_SPEC ? [...LOG_TAIL_SPEC.flags, ...LOG_STATS_SPEC.flags] : spec.flags;
  const { values: parsed, positionals } = parseCommandLine({ ...spec, flags }, argv, { positionals: true });
  const values = parsed as FlagValues<typeof LOG_TAIL_SPEC.flags> & FlagValues<typeof LOG_STATS_SPEC.flags>;
  if (values.help) return { command: 'help', spec };
  const [command, ...extra] = positionals;
  const fail = (message: string) => new UsageError(message, spec);
  if (extra.length > 0) throw fail(`unexpected "${extra.join(' ')}"`);
  if (values.file !== undefined && values.config !== undefined)
    throw fail('give --file or --config, not both');
  const source = {
    ...(values.file === undefined ? {} : { file: values.file }),
    ...(values.config === undefined ? {} : { config: values.config }),
  };
  if (command === 'tail') {
    const lines = values.lines === undefined ? 10 : Number(values.lines);
    if (!Number.isInteger(lines) || lines < 0) throw fail('-n takes a whole number');
    return { command, lines, follow: values.follow ?? false, ...source };
  }
  if (command === 'stats') {
    if (!values.model) throw fail('stats needs --model');
    return { command, model: values.model, json: values.json ?? false, ...source };
  }
  throw fail(command ? `unknown log command "${command}"` : 'give tail or stats');
}

function renderStats(stats: ModelLogStats, files: string[], unreadable: number): string {
  const parts: string[] = [
    `model ${stats.model}: ${stats.requests} requests, read from ${files.join(', ')}` +
      (unreadable > 0 ? ` (${unreadable} unreadable ${unreadable === 1 ? 'line' : 'lines'} skipped)` : ''),
  ];
  const decisions = [...new Set(stats.variants.flatMap((v) => Object.keys(v.decisions)))].sort();
  parts.push(
    'requests and decisions per variant (the variant each user is assigned to)\n' +
      table(
        ['variant', 'requests', 'ok', 'errors', 'fallbacks', ...decisions],
        stats.variants.map((v) => [
          v.variant,
          v.requests,
          v.ok,
          v.errors,
          v.fallbacks,
          ...decisions.map((d) => v.decisions[d] ?? 0),
        ]),
      ),
  );
  parts.push(
    stats.fallbacks.length === 0
      ? 'fallbacks: none'
      : 'fallbacks (what answered instead of the variant, and why)\n' +
          table(
            ['variant', 'fallback', 'reason', 'answered_by', 'count'],
            stats.fallbacks.map((f) => [f.variant, f.kind, f.reason, f.answered_by, f.count]),
          ),
  );
  if (stats.shadows.length === 0) {
    parts.push('shadows: none');
  } else {
    parts.push(
      'primary against shadow\n' +
        table(
          [
            'variant',
            'shadow',
            'mirrored',
            'compared',
            'agree',
            'disagree',
            'agreement',
            'mean_delta',
            'errors',
            'dropped',
            'not_comparable',
          ],
          stats.shadows.map((s) => [
            s.variant,
            s.shadow,
            s.mirrored,
            s.compared,
            s.agree,
            s.disagree,
            s.agreement_rate === null ? '-' : `${(s.agreement_rate * 100).toFixed(2)}%`,
            s.mean_score_delta === null ? '-' : s.mean_score_delta.toFixed(4),
            s.errors,
            s.dropped,
            s.not_comparable,
          ]),
        ),
    );
    const changes = stats.shadows.flatMap((s) =>
      s.changes.map((c) => [s.variant, s.shadow, c.from, c.to, c.count] as (string | number)[]),
    );
    if (changes.length > 0)
      parts.push(
        'decisions the shadow would have changed (joined by request_id)\n' +
          table(['variant', 'shadow', 'primary_decision', 'shadow_decision', 'count'], changes),
      );
  }
  return `${parts.join('\n\n')}\n`;
}

const NUMERIC = /^(-|-?\d+(\.\d+)?%?)$/;

/** Columns padded to their widest cell; numbers (and rates, and "-" for none) right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => NUMERIC.test(String(row[i]))));
  const line = (cells: (string | number)[]) =>
    cells
      .map((cell, i) => (numeric[i] ? String(cell).padStart(widths[i]!) : String(cell).padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
