import { appendItem, insertItem, removeItem, setScalar } from './text-edit.js';
import { describeWeights, referencesTo, writeRecord, type Json, type ModelEdit } from './model.js';
import { planSet, toBuckets, toPercent, type Weighted } from './weights.js';

/** Commands that change which names are variants and which are shadows. */
export type MembershipCommand =
  | { verb: 'variant-add'; name: string; version?: string; upstream?: string; model?: string; after?: string }
  | { verb: 'variant-remove'; name: string }
  /** A shadow becomes a variant placed right after `from` and takes `weight` of its users. */
  | { verb: 'shadow-promote'; name: string; weight: number; from?: string }
  /** The reverse: the variant's users go back where they came from, and it mirrors `percent`. */
  | { verb: 'variant-demote'; name: string; percent: number };

const MEMBERSHIP_VERBS: ReadonlySet<string> = new Set([
  'variant-add',
  'variant-remove',
  'shadow-promote',
  'variant-demote',
]);

export function isMembershipCommand(command: { verb: string }): command is MembershipCommand {
  return MEMBERSHIP_VERBS.has(command.verb);
}

/** Applies the command to `edit` (text and expected values); returns why it is refused, if it is. */
export function editMembership(edit: ModelEdit, command: MembershipCommand): string | undefined {
  switch (command.verb) {
    case 'variant-add':
      return addVariant(edit, command);
    case 'variant-remove':
      return removeVariant(edit, command.name);
    case 'shadow-promote':
      return promoteShadow(edit, command);
    case 'variant-demote':
      return demoteVariant(edit, command);
  }
}

/** The runtime version a name like `v3` stands for, as `shadow add` reads it too. */
export const versionFromName = (name: string): string | undefined => /^v(\d+)$/.exec(name)?.[1];

function nameTaken(edit: ModelEdit, name: string): string | undefined {
  const { modelName, view } = edit;
  if (view.variants.some((v) => v.name === name)) return `"${name}" is already a variant of ${modelName}`;
  if (view.shadows.some((s) => s.name === name)) {
    return (
      `"${name}" is a shadow of ${modelName}; \`switchyard rollout ${modelName} shadow promote ${name} [WEIGHT]\` ` +
      `makes it a variant (and stops mirroring to it)`
    );
  }
  return undefined;
}

function unknownVariant(edit: ModelEdit, name: string): string {
  const { modelName, view } = edit;
  const list = view.variants.map((v) => v.name).join(', ');
  return view.shadows.some((s) => s.name === name)
    ? `"${name}" is a shadow of ${modelName}, not a variant (variants: ${list})`
    : `no variant "${name}" in ${modelName} (variants: ${list})`;
}

/** `variant add`: a new variant at weight 0, after `after` (else last); it serves no one yet. */
function addVariant(
  edit: ModelEdit,
  command: Extract<MembershipCommand, { verb: 'variant-add' }>,
): string | undefined {
  const { modelName, view, model, notes } = edit;
  const taken = nameTaken(edit, command.name);
  if (taken) return taken;
  const index =
    command.after === undefined
      ? view.variants.length - 1
      : view.variants.findIndex((v) => v.name === command.after);
  if (index === -1) return `--after: ${unknownVariant(edit, command.after!)}`;
  const version = command.version ?? versionFromName(command.name);
  if (version === undefined) {
    return `give --version: the runtime version for variant "${command.name}" cannot be read from its name`;
  }
  // Upstream and model as the variant it follows, unless given: usually the same model on the same pool.
  const neighbour = view.variants[index]!;
  const variant = {
    name: command.name,
    upstream: command.upstream ?? String(neighbour.upstream),
    model: command.model ?? String(neighbour.model),
    version,
    weight: 0,
  };
  (model.variants as Json[]).splice(index + 1, 0, variant);
  insertItem(edit.editor, edit.map, 'variants', index, variant);
  notes.push(
    `${modelName}: variant ${command.name} added after ${neighbour.name} at weight 0 ` +
      `(${variant.upstream} ${variant.model} version ${version}); no user changes variant. ` +
      `\`set ${command.name}=W\` gives it users, taken from ${tradeDonor(view.variants, index)}`,
  );
  return undefined;
}

/** Who a variant placed after `index` would take users from: see tradePartner. */
function tradeDonor(variants: readonly Weighted[], index: number): string {
  for (let i = index; i >= 0; i--) if (toBuckets(variants[i]!.weight) > 0) return variants[i]!.name;
  return variants.find((v) => toBuckets(v.weight) > 0)?.name ?? variants[index]!.name;
}

/** Why `name` can't leave the variants (with or without its users), or undefined. */
function pinned(edit: ModelEdit, name: string, verb: string): string | undefined {
  const references = referencesTo(edit.model, name);
  if (references.length === 0) return undefined;
  return `${name} is ${references.join(' and ')} of ${edit.modelName}; change that first, then ${verb} it`;
}

/** `variant remove`: only a variant without users and that nothing else names. */
function removeVariant(edit: ModelEdit, name: string): string | undefined {
  const { modelName, view, model, notes } = edit;
  const index = view.variants.findIndex((v) => v.name === name);
  if (index === -1) {
    const shadow = view.shadows.some((s) => s.name === name);
    return `${unknownVariant(edit, name)}${shadow ? `; \`shadow remove ${name}\` removes a shadow` : ''}`;
  }
  const variant = view.variants[index]!;
  if (toBuckets(variant.weight) > 0) {
    return (
      `${name} has weight ${variant.weight}: its users would have nowhere to go. ` +
      `\`switchyard rollout ${modelName} set ${name}=0\` first (they go back to the variant they came from)`
    );
  }
  const pin = pinned(edit, name, 'remove');
  if (pin) return pin;
  (model.variants as Json[]).splice(index, 1);
  removeItem(edit.editor, edit.map, 'variants', view.variants, index);
  notes.push(`${modelName}: variant ${name} (weight 0) removed; no user changes variant`);
  if (view.rollback && toBuckets(view.rollback[name] ?? 0) > 0) {
    notes.push(`rollback_weights still give ${name} ${view.rollback[name]}: a rollback would be refused`);
  }
  return undefined;
}

/**
 * `shadow promote`: the shadow stops being mirrored to and becomes a variant listed right after
 * `from` (default: the variant with the most weight), taking `weight` of `from`'s users — only
 * users of `from` move, all to it.
 */
function promoteShadow(
  edit: ModelEdit,
  command: Extract<MembershipCommand, { verb: 'shadow-promote' }>,
): string | undefined {
  const { modelName, view, model, notes } = edit;
  const shadowIndex = view.shadows.findIndex((s) => s.name === command.name);
  if (shadowIndex === -1) {
    const names = view.shadows.map((s) => String(s.name)).join(', ') || 'none';
    const isVariant = view.variants.some((v) => v.name === command.name);
    return `no shadow "${command.name}" in ${modelName} (shadows: ${names})${isVariant ? `; ${command.name} is already a variant: \`set ${command.name}=W\`` : ''}`;
  }
  const most = view.variants.reduce((best, v) => (toBuckets(v.weight) > toBuckets(best.weight) ? v : best));
  const donorIndex = view.variants.findIndex((v) => v.name === (command.from ?? most.name));
  if (donorIndex === -1) return `--from: ${unknownVariant(edit, command.from!)}`;
  const donor = view.variants[donorIndex]!;
  const left = toBuckets(donor.weight) - toBuckets(command.weight);
  if (left < 0) return `${donor.name} has only ${donor.weight} to give; choose another with --from`;

  const shadow = view.shadows[shadowIndex]!;
  const variant = {
    name: command.name,
    upstream: shadow.upstream,
    model: shadow.model,
    version: shadow.version,
    weight: command.weight,
  };
  const shadows = model.shadows as Json[];
  shadows.splice(shadowIndex, 1);
  removeItem(edit.editor, edit.map, 'shadows', view.shadows, shadowIndex);

  const variants = model.variants as Json[];
  const after: Weighted[] = view.variants.map((v) => ({ name: v.name, weight: v.weight }));
  after.splice(donorIndex + 1, 0, { name: command.name, weight: command.weight });
  if (left !== toBuckets(donor.weight)) {
    variants[donorIndex]!.weight = toPercent(left);
    after[donorIndex]!.weight = toPercent(left);
    const path = ['models', modelName, 'variants', donorIndex, 'weight'];
    setScalar(edit.editor, edit.doc.getIn(path, true), String(toPercent(left)), path.join('.'));
    writeRecord(edit); // before the insertion: both may land at the end of the list, the record below
  }
  variants.splice(donorIndex + 1, 0, variant);
  insertItem(edit.editor, edit.map, 'variants', donorIndex, variant);

  notes.push(
    `${modelName}: shadow ${command.name} (mirroring ${String(shadow.percent)}%) is now a variant listed after ` +
      `${donor.name}, with ${command.weight}% of users taken from ${donor.name}; no more copies go to it`,
    ...describeWeights(modelName, view.variants, after),
    `to undo: switchyard rollout ${modelName} variant demote ${command.name} ${String(shadow.percent)}`,
  );
  return undefined;
}

/**
 * `variant demote`: the reverse of `shadow promote`. The variant's users go back to the variant
 * they came from (the rule of `set NAME=0`), it leaves the variants and mirrors `percent` again.
 */
function demoteVariant(
  edit: ModelEdit,
  command: Extract<MembershipCommand, { verb: 'variant-demote' }>,
): string | undefined {
  const { modelName, view, model, notes } = edit;
  const index = view.variants.findIndex((v) => v.name === command.name);
  if (index === -1) return unknownVariant(edit, command.name);
  if (view.variants.length === 1) return `${command.name} is the only variant of ${modelName}`;
  const pin = pinned(edit, command.name, 'demote');
  if (pin) return pin;

  const plan = planSet(modelName, view.variants, [{ name: command.name, weight: 0 }], view.rollback);
  if (!plan.ok) return plan.reason;
  const variants = model.variants as Json[];
  const demoted = view.variants[index]!;
  plan.weights.forEach((weighted, i) => {
    if (i === index || toBuckets(weighted.weight) === toBuckets(view.variants[i]!.weight)) return;
    variants[i]!.weight = weighted.weight;
    const path = ['models', modelName, 'variants', i, 'weight'];
    setScalar(edit.editor, edit.doc.getIn(path, true), String(weighted.weight), path.join('.'));
  });
  variants.splice(index, 1);
  removeItem(edit.editor, edit.map, 'variants', view.variants, index);

  const shadow = {
    name: demoted.name,
    upstream: demoted.upstream,
    model: demoted.model,
    version: demoted.version,
    percent: command.percent,
  };
  model.shadows = [...((model.shadows as Json[] | undefined) ?? []), shadow];
  appendItem(edit.editor, edit.map, 'shadows', view.shadows, shadow, 'variants');
  if (plan.changed) writeRecord(edit);

  const after = plan.weights.filter((_, i) => i !== index);
  notes.push(
    `${modelName}: variant ${command.name} is a shadow again, mirroring ${command.percent}% of requests`,
    ...(plan.notes ?? []),
    ...describeWeights(modelName, view.variants, after),
  );
  return undefined;
}
