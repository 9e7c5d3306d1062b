import type { PathSegment, Report } from '../config/problem.js';
import { isPlainObject } from '../config/schema-check.js';

/**
 * The rule of a model's `drift` section that its schema can't express: what it measures (the
 * score and the features) is named by the contract, so an enabled section needs one. Left out,
 * `drift` is on for contracted models and nothing for the others, which is no mistake.
 */
export function checkDrift(at: PathSegment[], model: Record<string, unknown>, report: Report): void {
  const drift = model.drift;
  if (!isPlainObject(drift) || drift.enabled === false || model.contract !== undefined) return;
  report(
    [...at, 'drift'],
    'needs a contract on this model: drift is measured on the score and features the contract names',
  );
}
