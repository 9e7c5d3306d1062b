import type { Document, YAMLMap } from 'yaml';
import { flowText, putPair, removePair, type TextEditor } from './text-edit.js';
import { toBuckets, userMoves, type Weighted } from './weights.js';

export type Json = Record<string, unknown>;

/** One model of the file as the rollout edits read it. */
export interface ModelView {
  variants: (Weighted & Json)[];
  shadows: Json[];
  rollback?: Record<string, number>;
}

/** What an edit of one model works on: the parsed file, its text, and the values it must end up as. */
export interface ModelEdit {
  doc: Document;
  editor: TextEditor;
  /** The model's block mapping in `doc`. */
  map: YAMLMap;
  modelName: string;
  view: ModelView;
  /** The model as the edited file must parse; each edit changes it as it changes the text. */
  model: Json;
  notes: string[];
}

export const RECORD_KEY = 'rollback_weights';
const RECORD_COMMENT = 'written by switchyard rollout: the weights before its last change';

/** Writes (or replaces) the rollback record: the weights before this edit. */
export function writeRecord(edit: ModelEdit): void {
  const record = Object.fromEntries(edit.view.variants.map((v) => [v.name, v.weight]));
  edit.model[RECORD_KEY] = record;
  putPair(edit.editor, edit.map, RECORD_KEY, flowText(record), 'variants', RECORD_COMMENT);
}

export function dropRecord(edit: ModelEdit): void {
  delete edit.model[RECORD_KEY];
  removePair(edit.editor, edit.map, RECORD_KEY);
}

/**
 * The weights after an edit, beside those before (by name, so added and removed variants show),
 * and which users change variant: the route stage's rule replayed over every bucket.
 */
export function describeWeights(
  model: string,
  before: readonly Weighted[],
  after: readonly Weighted[],
): string[] {
  const weights = after.map((v) => {
    const was = before.find((b) => b.name === v.name)?.weight;
    if (was === undefined) return `${v.name} (new) ${v.weight}`;
    return toBuckets(was) === toBuckets(v.weight)
      ? `${v.name} ${v.weight}`
      : `${v.name} ${was} → ${v.weight}`;
  });
  for (const gone of before.filter((b) => !after.some((v) => v.name === b.name)))
    weights.push(`${gone.name} ${gone.weight} → (no longer a variant)`);
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

export function isRecord(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** What stops a variant from leaving the variants: a rollout policy or a fallback naming it. */
export function referencesTo(model: Json, name: string): string[] {
  const found: string[] = [];
  const policy = model.rollout;
  if (isRecord(policy)) {
    if (policy.candidate === name) found.push('the candidate of its rollout policy');
    if (policy.baseline === name) found.push('the baseline of its rollout policy');
  }
  const fallback = Array.isArray(model.fallback) ? model.fallback : [];
  if (fallback.some((step: unknown) => isRecord(step) && step.variant === name))
    found.push('a fallback step');
  return found;
}
