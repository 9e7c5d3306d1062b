import { FeatureConfigSchema, ThresholdConfigSchema } from '../contract/config.js';
import { checkRolloutPolicy } from '../delivery/checks.js';
import { checkDrift } from '../drift/checks.js';
import { ApiKeyConfigSchema } from '../stages/auth/config.js';
import { FallbackStepSchema } from '../stages/fallback/config.js';
import { VariantConfigSchema } from '../stages/route/config.js';
import { ShadowConfigSchema } from '../stages/shadow/config.js';
import { pointer, type ConfigProblem, type PathSegment, type Report } from './problem.js';
import { isPlainObject, wellFormed } from './schema-check.js';

// Users are assigned to variants over 10000 hash buckets, so a weight is a whole number of them.
const BUCKETS_PER_PERCENT = 100;

/**
 * Rules a JSON schema can't express: references between sections, uniqueness, sums and order.
 * They run even when the schema found problems, so one pass reports everything: each rule reads
 * only the items that are well formed (by the owning slice's schema) and leaves the rest to the
 * schema's own problems.
 */
export function crossCheck(config: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const report: Report = (path, message) => problems.push({ path: pointer(path), message });
  if (!isPlainObject(config)) return problems;

  checkTenants(config.tenants, report);
  checkLimits(config.limits, report);

  const upstreams = isPlainObject(config.upstreams) ? config.upstreams : undefined;
  for (const [name, upstream] of Object.entries(upstreams ?? {})) {
    if (!isPlainObject(upstream)) continue;
    const hasEndpoints = upstream.endpoints !== undefined;
    if (hasEndpoints === (upstream.dns !== undefined)) {
      report(
        ['upstreams', name],
        hasEndpoints ? 'has both endpoints and dns; keep one' : 'needs one of endpoints and dns',
      );
    }
  }

  const upstreamNames = upstreams ? Object.keys(upstreams) : undefined;
  for (const [name, model] of Object.entries(isPlainObject(config.models) ? config.models : {})) {
    if (isPlainObject(model)) checkModel(['models', name], model, upstreamNames, report);
  }
  return problems;
}

/** The head is part of the request: it cannot be given longer than the whole request. */
function checkLimits(limits: unknown, report: Report): void {
  if (!isPlainObject(limits)) return;
  const { header_timeout_ms: head, request_timeout_ms: whole } = limits;
  if (typeof head === 'number' && typeof whole === 'number' && head > whole)
    report(['limits', 'header_timeout_ms'], `is longer than limits.request_timeout_ms (${whole})`);
}

/** Reports the second and later uses of a name, pointing back at the first. */
function uniqueNames(
  entries: [string, PathSegment[]][],
  describe: (name: string, earlier: string) => string,
  report: Report,
): void {
  const first = new Map<string, PathSegment[]>();
  for (const [name, path] of entries) {
    const earlier = first.get(name);
    if (earlier) report(path, describe(name, pointer(earlier)));
    else first.set(name, path);
  }
}

const duplicate =
  (what: string) =>
  (name: string, earlier: string): string =>
    `duplicate ${what} "${name}" (also at ${earlier})`;

/** The string `name` of each item of `list` that has one, with its path. */
function namesOf(at: PathSegment[], list: unknown): [string, PathSegment[]][] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item: unknown, index) =>
    isPlainObject(item) && typeof item.name === 'string'
      ? [[item.name, [...at, index, 'name']] satisfies [string, PathSegment[]]]
      : [],
  );
}

function checkTenants(tenants: unknown, report: Report): void {
  if (!Array.isArray(tenants)) return;
  const names = namesOf(['tenants'], tenants);
  const keys: [string, PathSegment[]][] = [];
  tenants.forEach((tenant: unknown, index) => {
    if (!isPlainObject(tenant)) return;
    for (const [key, keyIndex] of wellFormed(ApiKeyConfigSchema, tenant.keys)) {
      keys.push([key.sha256, ['tenants', index, 'keys', keyIndex, 'sha256']]);
    }
  });
  uniqueNames(names, duplicate('tenant name'), report);
  // A key identifies its tenant, so one key in two places would make the tenant ambiguous.
  uniqueNames(keys, (_, earlier) => `the same key is already listed at ${earlier}`, report);
}

function checkModel(
  at: PathSegment[],
  model: Record<string, unknown>,
  upstreamNames: readonly string[] | undefined,
  report: Report,
): void {
  const checkUpstream = (path: PathSegment[], upstream: string): void => {
    if (upstreamNames && !upstreamNames.includes(upstream)) {
      report(path, `unknown upstream "${upstream}" (upstreams: ${upstreamNames.join(', ') || 'none'})`);
    }
  };
  const variantNames = [...new Set(namesOf([], model.variants).map(([name]) => name))];
  uniqueNames(namesOf([...at, 'variants'], model.variants), duplicate('variant name'), report);
  for (const [variant, index] of wellFormed(VariantConfigSchema, model.variants)) {
    checkUpstream([...at, 'variants', index, 'upstream'], variant.upstream);
    const buckets = variant.weight * BUCKETS_PER_PERCENT;
    if (Math.abs(buckets - Math.round(buckets)) > 1e-6) {
      report(
        [...at, 'variants', index, 'weight'],
        'at most two decimals: users are assigned in steps of 0.01%',
      );
    }
  }
  checkWeightSum([...at, 'variants'], model.variants, report);

  uniqueNames(namesOf([...at, 'shadows'], model.shadows), duplicate('shadow name'), report);
  for (const [shadow, index] of wellFormed(ShadowConfigSchema, model.shadows)) {
    checkUpstream([...at, 'shadows', index, 'upstream'], shadow.upstream);
    if (variantNames.includes(shadow.name)) {
      // Variant and shadow share metric labels and log fields; one name for both would mix them up.
      report([...at, 'shadows', index, 'name'], `"${shadow.name}" is already a variant of this model`);
    }
  }

  let defaultAt: number | undefined;
  for (const [step, index] of wellFormed(FallbackStepSchema, model.fallback)) {
    const path = [...at, 'fallback', index];
    if (defaultAt !== undefined) {
      report(path, `never reached: the default at fallback/${defaultAt} always answers`);
    }
    if (step === 'cache') {
      if (model.cache === undefined) {
        report(path, 'falls back to the cache, but this model has no cache section');
      }
    } else if ('variant' in step) {
      if (!variantNames.includes(step.variant)) {
        report(
          [...path, 'variant'],
          `unknown variant "${step.variant}" (variants: ${variantNames.join(', ')})`,
        );
      }
    } else {
      defaultAt ??= index;
    }
  }

  const { budget_ms: budget, fallback_reserve_ms: reserve } = model;
  if (typeof budget === 'number' && typeof reserve === 'number' && reserve >= budget) {
    report(
      [...at, 'fallback_reserve_ms'],
      `must be less than budget_ms (${budget}), or the model is never called`,
    );
  }

  if (isPlainObject(model.contract)) checkContract([...at, 'contract'], model.contract, report);
  if (isPlainObject(model.rollout)) checkRolloutPolicy([...at, 'rollout'], model, report);
  checkDrift(at, model, report);
}

function checkWeightSum(at: PathSegment[], variants: unknown, report: Report): void {
  if (!Array.isArray(variants) || variants.length === 0) return;
  const weights = variants.map((variant: unknown) => (isPlainObject(variant) ? variant.weight : undefined));
  // With a weight missing or mistyped the sum means nothing; the schema reports that variant instead.
  if (!weights.every((weight) => typeof weight === 'number')) return;
  const buckets = weights.reduce((sum, weight) => sum + Math.round(weight * BUCKETS_PER_PERCENT), 0);
  if (buckets !== 100 * BUCKETS_PER_PERCENT) {
    report(at, `weights sum to ${buckets / BUCKETS_PER_PERCENT}, not 100`);
  }
}

function checkContract(at: PathSegment[], contract: Record<string, unknown>, report: Report): void {
  uniqueNames(namesOf([...at, 'features'], contract.features), duplicate('feature'), report);
  for (const [feature, index] of wellFormed(FeatureConfigSchema, contract.features)) {
    if (feature.min !== undefined && feature.max !== undefined && feature.min > feature.max) {
      report([...at, 'features', index], `min (${feature.min}) is greater than max (${feature.max})`);
    }
  }

  const decisions = isPlainObject(contract.decisions) ? contract.decisions : {};
  let previous: number | undefined;
  for (const [threshold, index] of wellFormed(ThresholdConfigSchema, decisions.thresholds)) {
    if (previous !== undefined && threshold.at <= previous) {
      report(
        [...at, 'decisions', 'thresholds', index, 'at'],
        `thresholds must ascend: ${threshold.at} is not above the previous ${previous}`,
      );
    }
    previous = threshold.at;
  }
}
