import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { parseDocument } from 'yaml';
import { readDriftReferences } from '../drift/reference.js';
import { crossCheck } from './checks.js';
import { interpolateEnv, type Env } from './interpolate.js';
import { sortProblems, type ConfigProblem } from './problem.js';
import { applyDefaults, schemaProblems } from './schema-check.js';
import { GatewayConfigSchema } from './schema.js';
import { createSnapshot, type ConfigSnapshot } from './snapshot.js';

export type { ConfigProblem } from './problem.js';
export type { Env } from './interpolate.js';
export type { ConfigSnapshot } from './snapshot.js';

export type LoadResult = { ok: true; snapshot: ConfigSnapshot } | { ok: false; problems: ConfigProblem[] };

export async function loadConfigFile(path: string, env: Env = process.env): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, problems: [{ path: '', message: `cannot read the config file: ${reason}` }] };
  }
  return loadConfigText(text, env, path);
}

/**
 * The config file's text as the gateway loads it: parsed and checked (parseConfigText), then the
 * files it names read and checked too — each model's drift reference, relative to the config
 * file's directory — so a broken one is reported at its path like any other problem.
 */
export async function loadConfigText(text: string, env: Env, path: string): Promise<LoadResult> {
  const parsed = parseConfigText(text, env, path);
  if (!parsed.ok) return parsed;
  const { references, problems } = await readDriftReferences(parsed.snapshot.config, dirname(path));
  if (problems.length > 0) return { ok: false, problems: sortProblems(problems) };
  return { ok: true, snapshot: Object.freeze({ ...parsed.snapshot, driftReferences: references }) };
}

/**
 * YAML text to a validated, frozen snapshot, or every problem found. The steps, in order: parse,
 * interpolate `${VAR}` into string values, apply defaults, check the schema, check the rules
 * between sections. All problems are collected before answering, so one edit-validate cycle
 * shows everything that is wrong.
 */
export function parseConfigText(text: string, env: Env, sourceName: string): LoadResult {
  const document = parseDocument(text, { prettyErrors: true });
  const syntax = [...document.errors, ...document.warnings];
  if (syntax.length > 0) {
    // The first line says what and where ("... at line 3, column 7"); the rest is a source excerpt.
    return { ok: false, problems: syntax.map((e) => ({ path: '', message: firstLine(e.message) })) };
  }

  let parsed: unknown;
  try {
    parsed = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return {
      ok: false,
      problems: [{ path: '', message: error instanceof Error ? error.message : String(error) }],
    };
  }

  const interpolated = interpolateEnv(parsed, env);
  const config = applyDefaults(GatewayConfigSchema, interpolated.value);
  // An unresolved ${VAR} is the problem to report at its path, not the pattern it then fails.
  const unresolved = new Set(interpolated.problems.map((problem) => problem.path));
  const problems = [
    ...interpolated.problems,
    ...[...schemaProblems(GatewayConfigSchema, config), ...crossCheck(config)].filter(
      (problem) => !unresolved.has(problem.path),
    ),
  ];
  if (problems.length === 0 && Value.Check(GatewayConfigSchema, config)) {
    return { ok: true, snapshot: createSnapshot(config, parsed, sourceName) };
  }
  return { ok: false, problems: sortProblems(problems) };
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0]?.replace(/:$/, '') ?? message;
}
