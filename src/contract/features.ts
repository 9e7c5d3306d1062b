import type { Problem } from '../errors.js';
import type { ContractConfig } from './config.js';

/**
 * Turns named features into one input row in the contract's column order. Every problem is
 * listed with its path (missing, unknown, wrong type, out of range), so a caller fixes them all
 * at once; `row` is set only when there were none.
 */
export function featuresToRow(
  contract: ContractConfig,
  features: unknown,
  path = '/features',
): { row?: number[]; problems: Problem[] } {
  const problems: Problem[] = [];
  if (typeof features !== 'object' || features === null || Array.isArray(features)) {
    return { problems: [{ path, message: 'must be an object of named feature values' }] };
  }
  const given = features as Record<string, unknown>;
  const row: number[] = [];
  for (const feature of contract.features) {
    const value = given[feature.name];
    const at = `${path}/${feature.name}`;
    if (value === undefined) {
      problems.push({ path: at, message: 'is missing' });
    } else if (typeof value === 'boolean') {
      row.push(value ? 1 : 0); // flags such as is_new_device may come as true/false
    } else if (typeof value !== 'number' || !Number.isFinite(value)) {
      problems.push({ path: at, message: `must be a number, got ${JSON.stringify(value)}` });
    } else if (feature.min !== undefined && value < feature.min) {
      problems.push({ path: at, message: `${value} is below the minimum ${feature.min}` });
    } else if (feature.max !== undefined && value > feature.max) {
      problems.push({ path: at, message: `${value} is above the maximum ${feature.max}` });
    } else {
      row.push(value);
    }
  }
  const known = new Set(contract.features.map((f) => f.name));
  for (const name of Object.keys(given)) {
    if (!known.has(name))
      problems.push({ path: `${path}/${name}`, message: 'is not a feature of this model' });
  }
  return problems.length === 0 ? { row, problems } : { problems };
}

/** The highest threshold the score reaches decides; under all of them, `below`. */
export function decide(contract: ContractConfig, score: number): { decision: string; threshold: number } {
  const { thresholds, below } = contract.decisions;
  for (let i = thresholds.length - 1; i >= 0; i--) {
    const threshold = thresholds[i]!;
    if (score >= threshold.at) return { decision: threshold.decision, threshold: threshold.at };
  }
  return { decision: below, threshold: thresholds[0]!.at };
}

/**
 * The contract's ranges applied to rows that arrive as numbers rather than named features (a
 * KServe v1 instance, an OIP tensor): the contract's input tensor, `columns` values a row in the
 * contract's feature order, is checked column by column against each feature's [min, max], the
 * same rule as a named feature's. `pathOf(flatIndex)` names where a value was in the request.
 * Tensors the contract does not describe (another input, another row width) are not checked here:
 * the tensor checks against the runtime's metadata refuse a wrong width.
 */
export function rowRangeProblems(
  contract: ContractConfig,
  data: readonly unknown[],
  pathOf: (flatIndex: number) => string,
): Problem[] {
  const { features } = contract;
  const columns = features.length;
  if (!features.some((f) => f.min !== undefined || f.max !== undefined)) return [];
  const problems: Problem[] = [];
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    if (typeof value !== 'number') continue; // booleans are flags: 0 or 1 as named features
    const feature = features[i % columns]!;
    if (feature.min !== undefined && value < feature.min)
      problems.push({
        path: pathOf(i),
        message: `${feature.name}: ${value} is below the minimum ${feature.min}`,
      });
    else if (feature.max !== undefined && value > feature.max)
      problems.push({
        path: pathOf(i),
        message: `${feature.name}: ${value} is above the maximum ${feature.max}`,
      });
  }
  return problems;
}
