import { isDeepStrictEqual } from 'node:util';
import { parseDocument } from 'yaml';
import { parseConfigText, type Env } from '../config/load.js';
import { fileHash } from '../config/snapshot.js';
import {
  editMembership,
  isMembershipCommand,
  versionFromName,
  type MembershipCommand,
} from './membership.js';
import { dropRecord, readModel, writeRecord, describeWeights, type Json, type ModelEdit } from './model.js';
import {
  appendItem,
  blockMap,
  flowText,
  pairOf,
  removeItem,
  removePair,
  setScalar,
  TextEditor,
  UneditableError,
} from './text-edit.js';
import { planPromote, planRollback, planSet, toBuckets, type WeightPlan, type Weighted } from './weights.js';

export { readModel } from './model.js';

export type RolloutCommand =
  | { verb: 'set'; assignments: Weighted[] }
  | { verb: 'promote'; variant: string }
  | { verb: 'rollback' }
  | { verb: 'shadow-add'; name: string; percent: number; upstream?: string; model?: string; version?: string }
  | { verb: 'shadow-remove'; name: string }
  | MembershipCommand;

export type RolloutEdit =
  | { ok: true; changed: false; notes: string[] }
  /**
   * `fileHash` is the file version every gateway serving it reports (`file_hash`); `hash`, the
   * effective settings with this process's environment, when every ${VAR} could be resolved here.
   */
  | { ok: true; changed: true; text: string; notes: string[]; fileHash: string; hash?: string }
  | { ok: false; problems: string[] };

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
    const edit: ModelEdit = {
      doc,
      editor,
      map: blockMap(doc, ['models', modelName]),
      modelName,
      view,
      model,
      notes,
    };
    if (command.verb === 'shadow-add' || command.verb === 'shadow-remove') {
      const problem = editShadows(edit, command);
      if (problem) return refuse(problem);
    } else if (isMembershipCommand(command)) {
      const problem = editMembership(edit, command);
      if (problem) return refuse(problem);
    } else {
      const unchanged = editWeights(edit, command);
      if (typeof unchanged === 'string') return refuse(unchanged);
      if (unchanged) return { ok: true, changed: false, notes: ['no change'] };
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

/** set, promote, rollback: returns why it is refused, true when nothing would change, else false. */
function editWeights(
  edit: ModelEdit,
  command: Extract<RolloutCommand, { verb: 'set' | 'promote' | 'rollback' }>,
): string | boolean {
  const { doc, editor, map, modelName, view, model, notes } = edit;
  const plan = planWeights(modelName, view, command);
  if (!plan.ok) return plan.reason;
  if (!plan.changed && command.verb !== 'rollback') return true;
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
  if (command.verb === 'rollback') dropRecord(edit);
  else writeRecord(edit);
  notes.push(...(plan.notes ?? []), ...describeWeights(modelName, view.variants, plan.weights));
  return false;
}

function planWeights(
  model: string,
  view: ModelEdit['view'],
  command: Extract<RolloutCommand, { verb: 'set' | 'promote' | 'rollback' }>,
): WeightPlan {
  switch (command.verb) {
    case 'set': {
      const shadow = command.assignments.find((a) => view.shadows.some((s) => s.name === a.name));
      if (shadow) {
        return {
          ok: false,
          reason:
            `"${shadow.name}" is a shadow of ${model}, not a variant: \`switchyard rollout ${model} shadow ` +
            `promote ${shadow.name} ${shadow.weight}\` makes it one with that weight`,
        };
      }
      return planSet(model, view.variants, command.assignments, view.rollback);
    }
    case 'promote': {
      if (view.shadows.some((s) => s.name === command.variant)) {
        return {
          ok: false,
          reason:
            `"${command.variant}" is a shadow of ${model}, not a variant: \`switchyard rollout ${model} shadow ` +
            `promote ${command.variant}\` makes it one (at 0; then \`promote ${command.variant}\` gives it everyone)`,
        };
      }
      return planPromote(model, view.variants, command.variant);
    }
    case 'rollback':
      return planRollback(model, view.variants, view.rollback);
  }
}

function editShadows(
  edit: ModelEdit,
  command: Extract<RolloutCommand, { verb: 'shadow-add' | 'shadow-remove' }>,
): string | undefined {
  const { doc, editor, map, modelName, view, model, notes } = edit;
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

  if (view.variants.some((v) => v.name === command.name)) {
    return (
      `"${command.name}" is already a variant of ${modelName}; \`switchyard rollout ${modelName} variant demote ` +
      `${command.name} ${command.percent}\` makes it a shadow (its users go back where they came from)`
    );
  }
  const first = view.variants[0]!;
  const version = command.version ?? versionFromName(command.name);
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
