import { KindGuard, type Static, type TSchema } from '@sinclair/typebox';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { unescapePointerSegment, type ConfigProblem } from './problem.js';

/**
 * Value.Default, plus the values of records (`models`, `upstreams`): TypeBox only descends into a
 * record's values when the value schema itself carries a default, and an empty model is no
 * sensible default. Mutates and returns `value`, like Value.Default.
 */
export function applyDefaults(schema: TSchema, value: unknown): unknown {
  const defaulted = Value.Default(schema, value);
  defaultRecordValues(schema, defaulted);
  return defaulted;
}

function defaultRecordValues(schema: TSchema, value: unknown): void {
  if (KindGuard.IsRecord(schema) && isPlainObject(value)) {
    const [pattern, valueSchema] = Object.entries(schema.patternProperties)[0] ?? [];
    if (pattern === undefined || valueSchema === undefined) return;
    const matches = new RegExp(pattern);
    for (const key of Object.keys(value)) {
      if (!matches.test(key)) continue;
      value[key] = Value.Default(valueSchema, value[key]);
      defaultRecordValues(valueSchema, value[key]);
    }
  } else if (KindGuard.IsObject(schema) && isPlainObject(value)) {
    for (const [key, propertySchema] of Object.entries(schema.properties)) {
      if (key in value) defaultRecordValues(propertySchema, value[key]);
    }
  } else if (KindGuard.IsArray(schema) && Array.isArray(value)) {
    for (const item of value) defaultRecordValues(schema.items, item);
  }
}

/** Every schema violation (not only the first), with messages written for someone editing YAML. */
export function schemaProblems(schema: TSchema, value: unknown): ConfigProblem[] {
  const errors = [...Value.Errors(schema, value)];
  // TypeBox reports a missing property twice (as missing, and as the wrong type); once is enough.
  const missing = new Set(
    errors.filter((e) => e.type === ValueErrorType.ObjectRequiredProperty).map((e) => e.path),
  );
  const seen = new Set<string>();
  const problems: ConfigProblem[] = [];
  for (const error of errors) {
    if (missing.has(error.path) && error.type !== ValueErrorType.ObjectRequiredProperty) continue;
    const problem = { path: error.path, message: describe(error) };
    const key = `${problem.path}\n${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function describe(error: ValueError): string {
  const schema: TSchema = error.schema;
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'required property is missing';
    case ValueErrorType.ObjectAdditionalProperties: {
      const key = unescapePointerSegment(error.path.slice(error.path.lastIndexOf('/') + 1));
      if (KindGuard.IsRecord(schema)) {
        const [pattern] = Object.keys(schema.patternProperties);
        return `name "${key}" is not allowed: names must match ${pattern ?? '(no pattern)'}`;
      }
      const known = KindGuard.IsObject(schema) ? Object.keys(schema.properties) : [];
      const suggestion = closest(key, known);
      return suggestion
        ? `unknown property "${key}" (did you mean "${suggestion}"?)`
        : `unknown property "${key}" (allowed: ${known.join(', ')})`;
    }
    case ValueErrorType.Union: {
      if (KindGuard.IsUnion(schema) && schema.anyOf.every((option) => KindGuard.IsLiteral(option))) {
        return `must be one of: ${schema.anyOf.map((option) => String(option.const)).join(', ')}`;
      }
      if (typeof schema.description === 'string') return `expected ${schema.description}`;
      return lowerFirst(error.message);
    }
    case ValueErrorType.String:
      // YAML reads `version: 1` as a number, which is the usual way to get here.
      return typeof error.value === 'number' || typeof error.value === 'boolean'
        ? 'expected a string (put numbers and true/false in quotes)'
        : 'expected a string';
    case ValueErrorType.StringPattern:
      return typeof schema.description === 'string'
        ? `expected ${schema.description}`
        : `expected a string matching ${String(schema.pattern)}`;
    default:
      return lowerFirst(error.message);
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** The known name closest to a typo, if it is within two edits. */
function closest(typo: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(typo.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The items of `list` that match `schema`, with their indexes. */
export function wellFormed<T extends TSchema>(schema: T, list: unknown): [Static<T>, number][] {
  if (!Array.isArray(list)) return [];
  const items: [Static<T>, number][] = [];
  list.forEach((item: unknown, index) => {
    if (Value.Check(schema, item)) items.push([item, index]);
  });
  return items;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
