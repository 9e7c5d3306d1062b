/**
 * The arithmetic of a rollout, on plain numbers. Weights are handled as hash buckets (hundredths
 * of a percent, 10000 in all), the unit the route stage assigns users in, so no float rounding can
 * make weights that looked like 100 sum to 99.99999.
 */

export const TOTAL_BUCKETS = 10_000;
const BUCKETS_PER_PERCENT = 100;

export interface Weighted {
  name: string;
  /** Percent of users, as in the config file. */
  weight: number;
}

export type WeightPlan =
  /** `notes` say what a reader of the diff can't see: who traded with whom, what was assumed. */
  { ok: true; weights: Weighted[]; changed: boolean; notes?: string[] } | { ok: false; reason: string };

export const toBuckets = (percent: number): number => Math.round(percent * BUCKETS_PER_PERCENT);
export const toPercent = (buckets: number): number => buckets / BUCKETS_PER_PERCENT;

/** `25`, `12.5`, `0.01`: a percent with at most two decimals in 0..100, or undefined. */
export function parsePercent(text: string): number | undefined {
  if (!/^\d{1,3}(\.\d{1,2})?$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 100 ? value : undefined;
}

const refuse = (reason: string): WeightPlan => ({ ok: false, reason });

function plan(before: readonly Weighted[], after: Weighted[]): Extract<WeightPlan, { ok: true }> {
  const changed = after.some((variant, i) => toBuckets(variant.weight) !== toBuckets(before[i]!.weight));
  return { ok: true, weights: after, changed };
}

/**
 * `set NAME=W`: one assignment trades the difference with one other variant (see `tradePartner`),
 * so only users of those two change variant. Several assignments set exactly those weights, and
 * the result must sum to 100. `previous` is the rollback record, the weights before the last change.
 */
export function planSet(
  model: string,
  variants: readonly Weighted[],
  assignments: readonly Weighted[],
  previous?: Readonly<Record<string, number>>,
): WeightPlan {
  const names = variants.map((variant) => variant.name);
  const seen = new Set<string>();
  for (const { name } of assignments) {
    if (!names.includes(name))
      return refuse(
        `no variant "${name}" in ${model} (variants: ${names.join(', ')}); ` +
          `\`switchyard rollout ${model} variant add ${name} --version V\` adds one at weight 0`,
      );
    if (seen.has(name)) return refuse(`"${name}" is assigned twice`);
    seen.add(name);
  }
  if (assignments.length === 1) return planTrade(model, variants, assignments[0]!, previous);

  const after = variants.map((variant) => {
    const assigned = assignments.find((a) => a.name === variant.name);
    return { name: variant.name, weight: assigned ? assigned.weight : variant.weight };
  });
  const sum = after.reduce((total, variant) => total + toBuckets(variant.weight), 0);
  if (sum !== TOTAL_BUCKETS) {
    const kept = after.filter((variant) => !seen.has(variant.name));
    const keptText = kept.length > 0 ? ` (${kept.map((v) => `${v.name} keeps ${v.weight}`).join(', ')})` : '';
    return refuse(`the weights would sum to ${toPercent(sum)}${keptText}; they must sum to 100`);
  }
  return plan(variants, after);
}

/**
 * The variant whose weight a single assignment to `variants[index]` trades with. Users sit in
 * cumulative ranges in list order and a variant at 0 holds none, so the nearest variant before it
 * with weight is the one whose users border its own (the nearest after it, when none before has
 * weight): raising takes that variant's users at the border, lowering gives them back to it — the
 * variant that gave them up, even with variants at 0 listed between. When lowering, a bordering
 * variant that the rollback record shows giving users to this one in the last change wins.
 */
export function tradePartner(
  variants: readonly Weighted[],
  index: number,
  lowering: boolean,
  previous?: Readonly<Record<string, number>>,
): number {
  const withWeight = (i: number) => toBuckets(variants[i]!.weight) > 0;
  let before = -1;
  for (let i = index - 1; i >= 0 && before === -1; i--) if (withWeight(i)) before = i;
  let after = -1;
  for (let i = index + 1; i < variants.length && after === -1; i++) if (withWeight(i)) after = i;
  const givers = lowering ? giversTo(variants, index, previous) : [];
  if (before !== -1 && after !== -1 && givers.includes(variants[after]!.name)) return after;
  if (before !== -1 || after !== -1) return before !== -1 ? before : after;
  // Every other variant is at 0: give back to the one that gave, else the neighbour in the list.
  const giver = variants.findIndex((variant) => givers.includes(variant.name));
  if (giver !== -1) return giver;
  return index > 0 ? index - 1 : index + 1;
}

/** The variants whose users moved to `variants[index]` between the recorded weights and these. */
function giversTo(
  variants: readonly Weighted[],
  index: number,
  previous: Readonly<Record<string, number>> | undefined,
): string[] {
  if (!previous) return [];
  const then = variants.map((variant) => ({ name: variant.name, weight: previous[variant.name] ?? 0 }));
  if (then.reduce((total, variant) => total + toBuckets(variant.weight), 0) !== TOTAL_BUCKETS) return [];
  const name = variants[index]!.name;
  return userMoves(then, variants)
    .filter((move) => move.to === name)
    .map((move) => move.from);
}

function planTrade(
  model: string,
  variants: readonly Weighted[],
  assignment: Weighted,
  previous?: Readonly<Record<string, number>>,
): WeightPlan {
  const index = variants.findIndex((variant) => variant.name === assignment.name);
  if (variants.length === 1) {
    return toBuckets(assignment.weight) === TOTAL_BUCKETS
      ? plan(variants, [...variants])
      : refuse(`${model} has one variant, whose weight is always 100`);
  }
  const current = variants[index]!;
  const delta = toBuckets(assignment.weight) - toBuckets(current.weight);
  if (delta === 0) return plan(variants, [...variants]);
  const partnerIndex = tradePartner(variants, index, delta < 0, previous);
  const partner = variants[partnerIndex]!;
  const partnerAfter = toBuckets(partner.weight) - delta;
  if (partnerAfter < 0) {
    const adjacent = Math.abs(partnerIndex - index) === 1;
    const where = `${adjacent ? 'listed just' : 'the nearest with weight'} ${partnerIndex < index ? 'before' : 'after'} it`;
    return refuse(
      `${current.name} needs ${toPercent(delta)} more, but ${partner.name} (${where}) has only ` +
        `${partner.weight}. A single assignment only moves weight between variants whose users border ` +
        `each other, so only their users change variant. To take weight from other variants too, give ` +
        `every changed weight, e.g.\n` +
        `  switchyard rollout ${model} set ${suggestion(variants, index, assignment.weight)}\n` +
        `(users of every variant whose range shifts may then change variant).`,
    );
  }
  const after = variants.map((variant, i) => {
    if (i === index) return { name: variant.name, weight: assignment.weight };
    if (i === partnerIndex) return { name: variant.name, weight: toPercent(partnerAfter) };
    return { ...variant };
  });
  const skipped = variants.slice(Math.min(index, partnerIndex) + 1, Math.max(index, partnerIndex));
  const between = skipped.length > 0 ? ` (${skipped.map((v) => v.name).join(', ')} at 0 in between)` : '';
  const note =
    delta > 0
      ? `${current.name} takes ${toPercent(delta)} from ${partner.name}, whose users border its own${between}`
      : `${current.name} gives ${toPercent(-delta)} back to ${partner.name}, the variant its users came from${between}`;
  return { ...plan(variants, after), notes: [note] };
}

/** A full assignment that takes the shortfall from the nearest variants first. */
function suggestion(variants: readonly Weighted[], index: number, weight: number): string {
  const buckets = variants.map((variant) => toBuckets(variant.weight));
  let missing = toBuckets(weight) - buckets[index]!;
  buckets[index] = toBuckets(weight);
  for (let distance = 1; missing > 0 && distance < variants.length; distance++) {
    for (const j of [index - distance, index + distance]) {
      if (j < 0 || j >= variants.length || missing === 0) continue;
      const taken = Math.min(buckets[j]!, missing);
      buckets[j]! -= taken;
      missing -= taken;
    }
  }
  return variants.map((variant, i) => `${variant.name}=${toPercent(buckets[i]!)}`).join(' ');
}

/** `promote NAME`: NAME gets every user; the others stay listed at 0 (fallback and rollback targets). */
export function planPromote(model: string, variants: readonly Weighted[], name: string): WeightPlan {
  if (!variants.some((variant) => variant.name === name)) {
    return refuse(`no variant "${name}" in ${model} (variants: ${variants.map((v) => v.name).join(', ')})`);
  }
  return plan(
    variants,
    variants.map((variant) => ({ name: variant.name, weight: variant.name === name ? 100 : 0 })),
  );
}

/**
 * `rollback`: the recorded weights. The file may have been edited since (by hand, or by `variant
 * add`, `shadow promote` or `variant remove`): a variant the record does not name was not serving
 * then and goes to 0; a recorded variant no longer listed is dropped when it had 0, and refuses the
 * rollback when it had users, who would have nowhere to go.
 */
export function planRollback(
  model: string,
  variants: readonly Weighted[],
  recorded: Readonly<Record<string, number>> | undefined,
): WeightPlan {
  if (recorded === undefined) {
    return refuse(
      `${model} has no rollback_weights: nothing to roll back to (each set or promote records the weights ` +
        `before it; a rollback uses them up). Set the weights you want with \`set\`.`,
    );
  }
  const names = variants.map((variant) => variant.name);
  const gone = Object.entries(recorded).filter(([name]) => !names.includes(name));
  const goneWithUsers = gone.filter(([, weight]) => toBuckets(weight) > 0);
  if (goneWithUsers.length > 0) {
    const list = goneWithUsers.map(([name, weight]) => `${name} at ${weight}`).join(', ');
    return refuse(
      `${model}'s rollback_weights give users to ${list}, no longer a variant; bring it back ` +
        `(\`variant add\` or \`shadow promote\`) or set the weights with \`set\` instead`,
    );
  }
  const after = variants.map((variant) => ({ name: variant.name, weight: recorded[variant.name] ?? 0 }));
  const sum = after.reduce((total, variant) => total + toBuckets(variant.weight), 0);
  if (sum !== TOTAL_BUCKETS) {
    return refuse(
      `${model}'s rollback_weights sum to ${toPercent(sum)}, not 100; set the weights with \`set\``,
    );
  }
  const notes = [
    ...names
      .filter((name) => !(name in recorded))
      .map((name) => `${name} is not in rollback_weights (added since): it goes to 0 and stays listed`),
    ...gone.map(([name]) => `rollback_weights name ${name} at 0, no longer a variant: nothing to restore`),
  ];
  return { ...plan(variants, after), notes };
}

/**
 * Which users change variant, as percent of all users per (from, to) pair, by replaying the route
 * stage's rule (cumulative ranges in list order) over every bucket.
 */
export function userMoves(
  before: readonly Weighted[],
  after: readonly Weighted[],
): { from: string; to: string; percent: number }[] {
  const owner = (weights: readonly Weighted[]): string[] => {
    const owners: string[] = [];
    for (const variant of weights) {
      for (let i = 0; i < toBuckets(variant.weight); i++) owners.push(variant.name);
    }
    return owners;
  };
  const was = owner(before);
  const is = owner(after);
  const moves = new Map<string, number>();
  for (let bucket = 0; bucket < TOTAL_BUCKETS; bucket++) {
    if (was[bucket] !== is[bucket]) {
      const key = `${was[bucket]}\u0000${is[bucket]}`;
      moves.set(key, (moves.get(key) ?? 0) + 1);
    }
  }
  return [...moves].map(([key, buckets]) => {
    const [from = '', to = ''] = key.split('\u0000');
    return { from, to, percent: toPercent(buckets) };
  });
}
