import { gatewayError } from '../../errors.js';
import { refuse, type NamedStage } from '../../pipeline/stage.js';
import type { ModelConfig } from '../../config/schema.js';
import { BUCKETS, bucketOf, cumulativeBounds, variantForBucket } from './assign.js';
import type { RouteMetrics } from './metrics.js';
import { createKeyReader } from './request-key.js';

/**
 * Assigns the request to a variant: the hash of the salted user key against the cumulative
 * weights, so the same user gets the same variant on every replica and after restarts.
 */
export function createRoute(
  modelName: string,
  model: ModelConfig,
  deps: { metrics: RouteMetrics; random?: () => number },
): NamedStage {
  const { routing, variants } = model;
  const bounds = cumulativeBounds(variants.map((v) => v.weight));
  const readKey = createKeyReader(routing.key);
  const forceHeader = routing.force_header.toLowerCase();
  const random = deps.random ?? Math.random;
  const counters = new Map(
    variants.flatMap((v) =>
      (['key', 'random', 'forced'] as const).map((source) => [
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
      let source: 'key' | 'random' | 'forced';
      if (typeof forced === 'string') {
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
        source = key === undefined ? 'random' : 'key';
      }
      const variant = variants[index]!;
      ctx.variant = variant;
      counters.get(`${variant.name}/${source}`)!.inc();
      return next();
    },
  };
}
