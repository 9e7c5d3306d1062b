import type { VariantConfig } from '../stages/route/config.js';
import type { UpstreamPool } from '../runtime-pool/index.js';
import type { BuiltGateway } from './build.js';

/**
 * What "ready" means on the gateway's Open Inference Protocol health routes (inference_rest.md,
 * "Server Ready" and "Model Ready": ready for inferencing). The gateway infers nothing itself; it
 * is ready for a model when it can send that model's requests somewhere:
 * - a model is ready when the gateway is not draining and every variant that takes traffic
 *   (weight > 0) has an upstream endpoint in rotation (healthy, not drained, not ejected);
 * - a model version is ready when some variant serving that version has one, weight or not
 *   (a version pin reaches a variant at weight 0);
 * - the server is ready when every model is ready.
 * The config is loaded by construction: a gateway without a valid config does not listen.
 */

/** Whether `pool` has an endpoint a request could be sent to now. */
function inRotation(pool: UpstreamPool | undefined): boolean {
  return pool?.status().some((e) => e.health === 'healthy' && !e.draining && !e.ejected) ?? false;
}

function variantReady(gateway: BuiltGateway, variant: VariantConfig): boolean {
  return inRotation(gateway.pools.get(variant.upstream));
}

/** Undefined when the gateway serves no such model, or the model no such version. */
export function modelReady(
  gateway: BuiltGateway,
  draining: boolean,
  name: string,
  version?: string,
): boolean | undefined {
  const model = gateway.models.get(name);
  if (!model) return undefined;
  const { variants } = model.config;
  if (version !== undefined) {
    const serving = variants.filter((v) => v.version === version);
    if (serving.length === 0) return undefined;
    return !draining && serving.some((v) => variantReady(gateway, v));
  }
  return !draining && variants.filter((v) => v.weight > 0).every((v) => variantReady(gateway, v));
}

export function serverReady(gateway: BuiltGateway, draining: boolean): boolean {
  return !draining && [...gateway.models.keys()].every((name) => modelReady(gateway, false, name) === true);
}
