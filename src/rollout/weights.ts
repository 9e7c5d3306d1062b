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

export type WeightPlan = { ok: true; weights: Weighted[]; changed: boolean } | { ok: false; reason: string };

export const toBuckets = (percent: number): number => Math.round(percent * BUCKETS_PER_PERCENT);
export const toPercent = (buckets: number): number => buckets / BUCKETS_PER_PERCENT;

/** `25`, `12.5`, `0.01`: a percent with at most two decimals in 0..100, or undefined. */
export function parsePercent(text: string): number | undefined {
  if (!/^\d{1,3}(\.\d{1,2})?$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 100 ? value : undefined;
}

const refuse = (reason: string): WeightPlan => ({ ok: false, reason });

function plan(before: readonly Weighted[], after: Weighted[]): WeightPlan {
  const changed = after.some((variant, i) => toBuckets(variant.weight) !== toBuckets(before[i]!.weight));
  return { ok: true, weights: after, changed };
}

/**
 * `set NAME=W`: one assignment moves the difference to or from the variant listed just before NAME
 * (just after, when NAME is first), so only users of those two neighbours change variant. Several
 * assignments set exactly those weights, and the result must sum to 100.
 */
export function planSet(
  model: string,
  variants: readonly Weighted[],
  assignments: readonly Weighted[],
): WeightPlan {
  const names = variants.map((variant) => variant.name);
  const seen = new Set<string>();
  for (const { name } of assignments) {
    if (!names.includes(name))
      return refuse(`no variant "${name}" in ${model} (variants: ${names.join(', ')})`);
    if (seen.has(name)) return refuse(`"${name}" is assigned twice`);
    seen.add(name);
  }
  if (assignments.length === 1) return planNeighbourMove(model, variants, assignments[0]!);

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

function planNeighbourMove(model: string, variants: readonly Weighted[], assignment: Weighted): WeightPlan {
  const index = variants.findIndex((variant) => variant.name === assignment.name);
  if (variants.length === 1) {
    return toBuckets(assignment.weight) === TOTAL_BUCKETS
      ? plan(variants, [...variants])
      : refuse(`${model} has one variant, whose weight is always 100`);
  }
  const neighbourIndex = index > 0 ? index - 1 : index + 1;
  const neighbour = variants[neighbourIndex]!;
  const current = variants[index]!;
  const delta = toBuckets(assignment.weight) - toBuckets(current.weight);
  const neighbourAfter = toBuckets(neighbour.weight) - delta;
  if (neighbourAfter < 0) {
    const where = neighbourIndex < index ? 'just before' : 'just after';
    return refuse(
      `${current.name} needs ${toPercent(delta)} more, but ${neighbour.name} (listed ${where} it) has only ` +
        `${neighbour.weight}. A single assignment only moves weight between neighbours, so only their users ` +
        `change variant. To take weight from other variants too, give every changed weight, e.g.\n` +
        `  switchyard rollout ${model} set ${suggestion(variants, index, assignment.weight)}\n` +
        `(users of every variant whose range shifts may then change variant).`,
    );
  }
  const after = variants.map((variant, i) => {
    if (i === index) return { name: variant.name, weight: assignment.weight };
    if (i === neighbourIndex) return { name: variant.name, weight: toPercent(neighbourAfter) };
    return { ...variant };
  });
  return plan(variants, after);
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

/** `rollback`: the recorded weights, when they still name exactly the listed variants and sum to 100. */
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
  const unknown = Object.keys(recorded).filter((name) => !names.includes(name));
  const missing = names.filter((name) => !(name in recorded));
  if (unknown.length > 0 || missing.length > 0) {
    const parts = [
      ...(unknown.length > 0 ? [`names ${unknown.join(', ')}, no longer a variant`] : []),
      ...(missing.length > 0 ? [`has no weight for ${missing.join(', ')}`] : []),
    ];
    return refuse(`${model}'s rollback_weights ${parts.join(' and ')}; set the weights with \`set\` instead`);
  }
  const after = variants.map((variant) => ({ name: variant.name, weight: recorded[variant.name]! }));
  const sum = after.reduce((total, variant) => total + toBuckets(variant.weight), 0);
  if (sum !== TOTAL_BUCKETS) {
    return refuse(
      `${model}'s rollback_weights sum to ${toPercent(sum)}, not 100; set the weights with \`set\``,
    );
  }
  return plan(variants, after);
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
