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
