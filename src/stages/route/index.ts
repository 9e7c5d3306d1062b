import { gatewayError } from '../../errors.js';
import { refuse, type AssignmentSource, type NamedStage } from '../../pipeline/stage.js';
import type { ModelConfig } from '../../config/schema.js';
import type { VariantConfig } from './config.js';
import { BUCKETS, bucketOf, candidateFrom, cumulativeBounds, variantForBucket } from './assign.js';
import type { RouteMetrics } from './metrics.js';
import { createKeyReader } from './request-key.js';

/**
 * Assigns the request to a variant: the hash of the salted user key against the cumulative
 * weights, so the same user gets the same variant on every replica and after restarts.
 */
export function createRoute(
  modelName: string,
  model: ModelConfig,
  deps: {
    metrics: RouteMetrics;
    random?: () => number;
    /** The model's running rollout: the candidate's share of the baseline's users, read per request. */
    rollout?: { share(): number };
  },
): NamedStage {
  const { routing, variants } = model;
  const bounds = cumulativeBounds(variants.map((v) => v.weight));
  const moveToCandidate =
    deps.rollout && model.rollout ? candidateCarve(model, bounds, deps.rollout) : undefined;
  const readKey = createKeyReader(routing.key);
  const forceHeader = routing.force_header.toLowerCase();
  const random = deps.random ?? Math.random;
  const pinTargets = pinnedVariants(variants);
  const counters = new Map(
    variants.flatMap((v) =>
      (['key', 'random', 'forced', 'pinned'] as const).map((source) => [
        `${v.name}/${source}`,
        deps.metrics.assignments.labels({ model: modelName, variant: v.name, source }),
      ]),
    ),
  );

  return {
    name: 'route',
    run(ctx, next) {
      const forced = ctx.headers[forceHeader];
      let index: number;
      let source: AssignmentSource;
      if (ctx.pinnedVersion !== undefined) {
        // A version in the URL decides the variant (it outranks the force header: it names what
        // the client asked for, the header only who answers).
        const scopes = ctx.tenant?.scopes;
        if (!scopes?.includes('pin') && !scopes?.includes('debug'))
          return Promise.resolve(refuse(gatewayError('ROUTE_PIN_FORBIDDEN')));
        const pinned = pinTargets.get(ctx.pinnedVersion);
        if (pinned === undefined) {
          return Promise.resolve(
            refuse(
              gatewayError(
                'MODEL_UNKNOWN_VERSION',
                `"${modelName}" has no variant serving version "${ctx.pinnedVersion}"`,
              ),
            ),
          );
        }
        index = pinned;
        source = 'pinned';
      } else if (typeof forced === 'string') {
        if (!ctx.tenant?.scopes.includes('debug'))
          return Promise.resolve(refuse(gatewayError('ROUTE_FORCE_FORBIDDEN')));
        index = variants.findIndex((v) => v.name === forced);
        if (index < 0) {
          return Promise.resolve(
            refuse(gatewayError('ROUTE_UNKNOWN_VARIANT', `"${forced}" is not a variant of ${modelName}`)),
          );
        }
        source = 'forced';
      } else {
        const key = readKey(ctx);
        if (key === undefined && routing.missing_key === 'reject') {
          return Promise.resolve(
            refuse(gatewayError('ROUTE_MISSING_KEY', `expected ${[routing.key].flat().join(' or ')}`)),
          );
        }
        ctx.userKey = key;
        const bucket = key === undefined ? Math.floor(random() * BUCKETS) : bucketOf(routing.salt, key);
        index = variantForBucket(bounds, bucket);
        if (moveToCandidate) index = moveToCandidate(index, bucket);
        source = key === undefined ? 'random' : 'key';
      }
      const variant = variants[index]!;
      ctx.variant = variant;
      ctx.assignment = source;
      counters.get(`${variant.name}/${source}`)!.inc();
      return next();
    },
  };
}

/**
 * A rollout's effective weights: the candidate takes the top `share` of the baseline's bucket
 * range, so as the share grows users only ever move from the baseline to the candidate, and a
 * rollback (share 0) returns each of them to the baseline; no other variant's users move.
 */
function candidateCarve(
  model: ModelConfig,
  bounds: Int32Array,
  rollout: { share(): number },
): (index: number, bucket: number) => number {
  const { baseline, candidate } = model.rollout!;
  const baselineIndex = model.variants.findIndex((v) => v.name === baseline);
  const candidateIndex = model.variants.findIndex((v) => v.name === candidate);
  const low = baselineIndex > 0 ? bounds[baselineIndex - 1]! : 0;
  const high = bounds[baselineIndex]!;
  return (index, bucket) => {
    if (index !== baselineIndex) return index;
    const share = rollout.share();
    if (share <= 0) return index;
    return bucket >= candidateFrom(low, high, share) ? candidateIndex : index;
  };
}

/**
 * Each version's variant for a pinned request: the first in order that takes traffic (weight > 0),
 * else the first that serves it at all (a version kept at weight 0 can still be pinned).
 */
function pinnedVariants(variants: readonly VariantConfig[]): Map<string, number> {
  const targets = new Map<string, number>();
  variants.forEach((variant, index) => {
    const current = targets.get(variant.version);
    if (current === undefined || (variants[current]!.weight === 0 && variant.weight > 0))
      targets.set(variant.version, index);
  });
  return targets;
}
