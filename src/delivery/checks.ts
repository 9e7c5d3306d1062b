import { Value } from '@sinclair/typebox/value';
import { ContractConfigSchema } from '../contract/config.js';
import type { PathSegment, Report } from '../config/problem.js';
import { isPlainObject } from '../config/schema-check.js';
import { RolloutCriteriaSchema, RolloutStepSchema } from './config.js';

/** Why a check needs the model's contract: what it compares is only defined through one. */
const NEEDS_CONTRACT: Partial<Record<string, string>> = {
  agreement: 'agreement compares the decisions the contract gives',
  score_delta: "score_delta compares scores, which the contract's output names",
  drift_psi: "drift_psi compares score distributions, which the contract's output names",
  decision_rate: "decision_rate counts one of the contract's decisions",
};

interface Sides {
  /** Each variant name of the model, with its weight when that is a number. */
  variants: Map<string, number | undefined>;
  shadows: readonly string[];
}

/**
 * The rules of a model's `rollout` policy that its schema can't express: references to the
 * model's variants, shadows and contract, and the order of the steps. Like the other cross
 * checks, each rule reads only what is well formed and leaves the rest to the schema's problems.
 */
export function checkRolloutPolicy(at: PathSegment[], model: Record<string, unknown>, report: Report): void {
  const policy = model.rollout;
  if (!isPlainObject(policy)) return;
  const sides: Sides = { variants: new Map(), shadows: [] };
  for (const variant of Array.isArray(model.variants) ? model.variants : []) {
    if (!isPlainObject(variant) || typeof variant.name !== 'string') continue;
    sides.variants.set(variant.name, typeof variant.weight === 'number' ? variant.weight : undefined);
  }
  sides.shadows = (Array.isArray(model.shadows) ? model.shadows : []).flatMap((shadow: unknown) =>
    isPlainObject(shadow) && typeof shadow.name === 'string' ? [shadow.name] : [],
  );

  checkSides(at, policy, sides, report);
  const numericSteps = checkSteps([...at, 'steps'], policy.steps, report);
  if (numericSteps) checkPauses([...at, 'pause_before'], policy.pause_before, numericSteps, report);
  if (isPlainObject(policy.criteria))
    checkCriteria([...at, 'criteria'], policy.criteria, model.contract, report);
}

function checkSides(at: PathSegment[], policy: Record<string, unknown>, sides: Sides, report: Report): void {
  const { candidate, baseline } = policy;
  const known = [...sides.variants.keys()].join(', ');
  /** Whether `name` is a variant; reports it (at `path`) when it is not. */
  const isVariant = (path: PathSegment[], name: string): boolean => {
    if (sides.variants.has(name)) return true;
    report(
      path,
      sides.shadows.includes(name)
        ? `"${name}" is a shadow of this model, not a variant (variants: ${known})`
        : `unknown variant "${name}" (variants: ${known})`,
    );
    return false;
  };

  if (typeof candidate === 'string' && isVariant([...at, 'candidate'], candidate)) {
    const path = [...at, 'candidate'];
    const weight = sides.variants.get(candidate);
    if (weight !== undefined && weight !== 0) {
      report(
        path,
        `"${candidate}" has weight ${weight}; a candidate starts at 0 and the rollout moves users to it`,
      );
    }
    if (sides.shadows.includes(candidate)) {
      // The rollout mirrors to the candidate itself; a shadow of the same name would double the
      // copies and share its metric labels.
      report(path, `"${candidate}" is also the name of a shadow of this model`);
    }
  }

  if (typeof baseline === 'string' && isVariant([...at, 'baseline'], baseline)) {
    const path = [...at, 'baseline'];
    if (baseline === candidate) {
      report(path, 'must differ from the candidate');
    } else if (sides.variants.get(baseline) === 0) {
      report(path, `"${baseline}" has weight 0, so it has no users for the candidate to take`);
    }
  }
}

/** Reports misplaced and unordered steps; returns the numeric steps, or undefined without a list. */
function checkSteps(at: PathSegment[], steps: unknown, report: Report): number[] | undefined {
  if (!Array.isArray(steps)) return undefined;
  const numeric: number[] = [];
  let previous: number | undefined;
  steps.forEach((step: unknown, index) => {
    if (!Value.Check(RolloutStepSchema, step)) return;
    if (step === 'shadow') {
      if (index > 0)
        report([...at, index], "'shadow' can only be the first step: it comes before any user moves");
      return;
    }
    if (previous !== undefined && step <= previous) {
      report([...at, index], `steps must ascend: ${step} is not above the previous ${previous}`);
    }
    previous = step;
    numeric.push(step);
  });
  return numeric;
}

function checkPauses(at: PathSegment[], pauses: unknown, steps: readonly number[], report: Report): void {
  if (!Array.isArray(pauses)) return;
  pauses.forEach((pause: unknown, index) => {
    if (typeof pause === 'number' && !steps.includes(pause)) {
      report([...at, index], `${pause} is not one of the steps (${steps.join(', ') || 'none'})`);
    }
  });
}

function checkCriteria(
  at: PathSegment[],
  criteria: Record<string, unknown>,
  contract: unknown,
  report: Report,
): void {
  const checks = Object.keys(criteria).filter((key) => key in RolloutCriteriaSchema.properties);
  if (checks.length === 0) {
    report(at, `set at least one check (${Object.keys(RolloutCriteriaSchema.properties).join(', ')})`);
  }
  if (contract === undefined) {
    for (const check of checks) {
      const why = NEEDS_CONTRACT[check];
      if (why) report([...at, check], `needs a contract on this model: ${why}`);
    }
    return;
  }

  const decisionRate = criteria.decision_rate;
  if (!isPlainObject(decisionRate) || typeof decisionRate.decision !== 'string') return;
  // A malformed contract is the contract's problem; its decisions mean nothing until it is fixed.
  if (!Value.Check(ContractConfigSchema, contract)) return;
  const decisions = [
    ...new Set([contract.decisions.below, ...contract.decisions.thresholds.map((t) => t.decision)]),
  ];
  if (!decisions.includes(decisionRate.decision)) {
    report(
      [...at, 'decision_rate', 'decision'],
      `unknown decision "${decisionRate.decision}" (the contract's decisions: ${decisions.join(', ')})`,
    );
  }
}
