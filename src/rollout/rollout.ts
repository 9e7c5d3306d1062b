import { isDeepStrictEqual } from 'node:util';
import { parseDocument, type Document } from 'yaml';
import { parseConfigText, type Env } from '../config/load.js';
import { fileHash } from '../config/snapshot.js';
import {
  appendItem,
  blockMap,
  flowText,
  pairOf,
  putPair,
  removeItem,
  removePair,
  setScalar,
  TextEditor,
  UneditableError,
} from './text-edit.js';
import {
  planPromote,
  planRollback,
  planSet,
  toBuckets,
  userMoves,
  type WeightPlan,
  type Weighted,
} from './weights.js';

export type RolloutCommand =
  | { verb: 'set'; assignments: Weighted[] }
  | { verb: 'promote'; variant: string }
  | { verb: 'rollback' }
  | { verb: 'shadow-add'; name: string; percent: number; upstream?: string; model?: string; version?: string }
  | { verb: 'shadow-remove'; name: string };

export type RolloutEdit =
  | { ok: true; changed: false; notes: string[] }
  /**
   * `fileHash` is the file version every gateway serving it reports (`file_hash`); `hash`, the
   * effective settings with this process's environment, when every ${VAR} could be resolved here.
   */
  | { ok: true; changed: true; text: string; notes: string[]; fileHash: string; hash?: string }
  | { ok: false; problems: string[] };

type Json = Record<string, unknown>;

interface ModelView {
  variants: Weighted[];
  shadows: Json[];
  rollback?: Record<string, number>;
}

const RECORD_KEY = 'rollback_weights';
const RECORD_COMMENT = 'written by switchyard rollout: the weights before its last change';
// The interpolation step's words for a variable missing here; the gateway's pod has it.
const UNSET_VARIABLE = /^environment variable [A-Za-z_][A-Za-z0-9_]* is not set/;

const refuse = (...problems: string[]): RolloutEdit => ({ ok: false, problems });

/**
 * Applies one rollout command to the text of a gateway config: plans the change on plain values,
 * edits only the affected text, checks that the edited text parses to exactly the planned values,
 * and validates it as the gateway would (with `env`). Nothing is written here.
 */
export function editRollout(
  source: string,
  modelName: string,
  command: RolloutCommand,
  env: Env,
  sourceName: string,
): RolloutEdit {
  const doc = parseDocument(source);
  if (doc.errors.length > 0) return refuse(...doc.errors.map((e) => e.message.split('\n', 1)[0] ?? ''));
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const view = readModel(data, modelName, sourceName);
  if (typeof view === 'string') return refuse(view);

  const expected = structuredClone(data) as { models: Record<string, Json> };
  const model = expected.models[modelName]!;
  const editor = new TextEditor(source);
  const notes: string[] = [];
  try {
    const map = blockMap(doc, ['models', modelName]);
    if (command.verb === 'shadow-add' || command.verb === 'shadow-remove') {
      const problem = editShadows(doc, editor, map, modelName, view, command, model, notes);
      if (problem) return refuse(problem);
    } else {
      const plan = planWeights(modelName, view, command);
      if (!plan.ok) return refuse(plan.reason);
      if (!plan.changed && command.verb !== 'rollback')
        return { ok: true, changed: false, notes: ['no change'] };
      plan.weights.forEach((variant, i) => {
        (model.variants as Json[])[i]!.weight = variant.weight;
        if (toBuckets(variant.weight) !== toBuckets(view.variants[i]!.weight)) {
          const path = ['models', modelName, 'variants', i, 'weight'];
          setScalar(editor, doc.getIn(path, true), String(variant.weight), path.join('.'));
        }
      });
      // A promoted rollout candidate has finished its rollout: the policy goes with the promotion,
      // which would otherwise be refused (a policy needs its candidate at weight 0).
      const policy = model.rollout as { candidate?: unknown } | undefined;
      if (command.verb === 'promote' && policy?.candidate === command.variant) {
        delete model.rollout;
        removePair(editor, map, 'rollout');
        notes.push(`the rollout policy of ${command.variant} is removed: its candidate is promoted`);
      }
      if (command.verb === 'rollback') {
        delete model[RECORD_KEY];
        removePair(editor, map, RECORD_KEY);
      } else {
        const record = Object.fromEntries(view.variants.map((v) => [v.name, v.weight]));
        model[RECORD_KEY] = record;
        putPair(editor, map, RECORD_KEY, flowText(record), 'variants', RECORD_COMMENT);
      }
      notes.push(...describeWeights(modelName, view.variants, plan.weights));
    }
  } catch (error) {
    if (error instanceof UneditableError) return refuse(`${sourceName}: ${error.message}`);
    throw error;
  }

  const text = editor.result();
  // The edit is spliced into the text, so make sure the text now says exactly what was planned.
  const reparsed = parseDocument(text);
  if (reparsed.errors.length > 0 || !isDeepStrictEqual(reparsed.toJS({ maxAliasCount: 100 }), expected)) {
    return refuse(
      `${sourceName}: this file's layout defeated the text edit; nothing written (please report it)`,
    );
  }
  const loaded = parseConfigText(text, env, sourceName);
  const asWritten = fileHash(expected);
  if (loaded.ok) {
    return { ok: true, changed: true, text, notes, fileHash: asWritten, hash: loaded.snapshot.hash };
  }
  const invalid = loaded.problems.filter((p) => !UNSET_VARIABLE.test(p.message));
  if (invalid.length > 0) {
    return refuse(
      `the edited ${sourceName} would not be valid, so nothing was written:`,
      ...invalid.map((p) => `  ${p.path || '/'}: ${p.message}`),
    );
  }
  const unset = loaded.problems.map((p) => p.message.split(' (', 1)[0]);
  notes.push(`validated, except what needs the gateway's environment: ${[...new Set(unset)].join('; ')}`);
  return { ok: true, changed: true, text, notes, fileHash: asWritten };
}

function planWeights(
  model: string,
  view: ModelView,
  command: Extract<RolloutCommand, { verb: 'set' | 'promote' | 'rollback' }>,
): WeightPlan {
  switch (command.verb) {
    case 'set':
      return planSet(model, view.variants, command.assignments);
    case 'promote':
      return planPromote(model, view.variants, command.variant);
    case 'rollback':
      return planRollback(model, view.variants, view.rollback);
  }
}

function editShadows(
  doc: Document,
  editor: TextEditor,
  map: ReturnType<typeof blockMap>,
  modelName: string,
  view: ModelView,
  command: Extract<RolloutCommand, { verb: 'shadow-add' | 'shadow-remove' }>,
  model: Json,
  notes: string[],
): string | undefined {
  const index = view.shadows.findIndex((shadow) => shadow.name === command.name);
  const shadows = (model.shadows as Json[] | undefined) ?? [];
  model.shadows = shadows;
  if (command.verb === 'shadow-remove') {
    if (index === -1) {
      const names = view.shadows.map((s) => String(s.name)).join(', ') || 'none';
      return `no shadow "${command.name}" in ${modelName} (shadows: ${names})`;
    }
    shadows.splice(index, 1);
    removeItem(editor, map, 'shadows', view.shadows, index);
    notes.push(`${modelName}: shadow ${command.name} removed; no more copies of traffic go to it`);
    return undefined;
  }

  const fields = { upstream: command.upstream, model: command.model, version: command.version };
  if (index !== -1) {
    // Already a shadow: change what was asked (usually the percent), in place.
    const shadow = shadows[index]!;
    const changes: string[] = [];
    for (const [key, value] of Object.entries({ ...fields, percent: command.percent })) {
      if (value === undefined || shadow[key] === value) continue;
      changes.push(`${key} ${String(shadow[key])} → ${value}`);
      shadow[key] = value;
      const path = ['models', modelName, 'shadows', index, key];
      setScalar(editor, doc.getIn(path, true), flowText(value), path.join('.'));
    }
    notes.push(
      changes.length > 0
        ? `${modelName}: shadow ${command.name}: ${changes.join(', ')}`
        : `${modelName}: shadow ${command.name} already so`,
    );
    return undefined;
  }

  const first = view.variants[0] as Weighted & Json;
  const version = command.version ?? /^v(\d+)$/.exec(command.name)?.[1];
  if (version === undefined) {
    return `give --version: the runtime version for shadow "${command.name}" cannot be read from its name`;
  }
  const shadow = {
    name: command.name,
    upstream: command.upstream ?? String(first.upstream),
    model: command.model ?? String(first.model),
    version,
    percent: command.percent,
  };
  shadows.push(shadow);
  const after = pairOf(map, 'rollback_weights') ? 'rollback_weights' : 'variants';
  appendItem(editor, map, 'shadows', view.shadows, shadow, after);
  notes.push(
    `${modelName}: shadow ${command.name} added: ${command.percent}% of requests copied to ` +
      `${shadow.upstream} ${shadow.model} version ${shadow.version}`,
  );
  return undefined;
}

function describeWeights(model: string, before: readonly Weighted[], after: readonly Weighted[]): string[] {
  const weights = after.map((v, i) => {
    const was = before[i]!.weight;
    return toBuckets(was) === toBuckets(v.weight)
      ? `${v.name} ${v.weight}`
      : `${v.name} ${was} → ${v.weight}`;
  });
  const moves = userMoves(before, after).map((m) => `${m.percent}% ${m.from} → ${m.to}`);
  return [
    `${model} weights: ${weights.join(', ')}`,
    moves.length > 0 ? `users changing variant: ${moves.join(', ')}` : 'no user changes variant',
  ];
}

/** The variants, shadows and rollback record of a model as written, or why they can't be read. */
export function readModel(data: unknown, modelName: string, sourceName: string): ModelView | string {
  const models = isRecord(data) && isRecord(data.models) ? data.models : undefined;
  if (!models) return `${sourceName} has no models section`;
  const model = models[modelName];
  if (!isRecord(model)) {
    return `no model "${modelName}" in ${sourceName} (models: ${Object.keys(models).join(', ') || 'none'})`;
  }
  const variants = model.variants;
  const wellFormed =
    Array.isArray(variants) &&
    variants.length > 0 &&
    variants.every((v) => isRecord(v) && typeof v.name === 'string' && typeof v.weight === 'number');
  if (!wellFormed) {
    return `${modelName}.variants is not a list of variants with names and numeric weights; run switchyard validate`;
  }
  const shadows = model.shadows ?? [];
  if (!Array.isArray(shadows) || !shadows.every(isRecord)) return `${modelName}.shadows is not a list`;
  const rollback = model[RECORD_KEY];
  if (
    rollback !== undefined &&
    !(isRecord(rollback) && Object.values(rollback).every((w) => typeof w === 'number'))
  ) {
    return `${modelName}.${RECORD_KEY} is not a mapping of variant names to weights`;
  }
  return {
    variants: (variants as Json[]).map((v) => ({ ...v, name: String(v.name), weight: Number(v.weight) })),
    shadows,
    ...(rollback ? { rollback: rollback as Record<string, number> } : {}),
  };
}

function isRecord(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
