import type { ModelConfig } from '../config/schema.js';
import { gatewayError } from '../errors.js';
import type { ModelMetadata } from '../shared/oip.js';
import type { UpstreamPool } from '../runtime-pool/index.js';
import { metadataExchange } from '../outbound/metadata-exchange.js';

/**
 * GET /v2/models/{model} as clients see the model: the gateway's name and variants' versions, with
 * the tensors the runtime reports for the first variant that takes traffic. With `version`
 * (GET /v2/models/{model}/versions/{v}), that version's: the tensors of the variant a pin to it
 * routes to, and `versions` only it; undefined when no variant serves it.
 */
export async function modelMetadata(
  name: string,
  model: ModelConfig,
  pools: ReadonlyMap<string, UpstreamPool>,
  version?: string,
): Promise<ModelMetadata | undefined> {
  const serving =
    version === undefined ? model.variants : model.variants.filter((v) => v.version === version);
  if (serving.length === 0) return undefined;
  const variant = serving.find((v) => v.weight > 0) ?? serving[0]!;
  const endpoint = pools.get(variant.upstream)?.pick();
  if (!endpoint) throw gatewayError('UPSTREAM_NO_ENDPOINT', `upstream "${variant.upstream}"`);
  let status: number;
  let text: string;
  try {
    ({ status, text } = await metadataExchange(endpoint, variant.model, variant.version, 2000));
  } catch (error) {
    endpoint.release('error');
    throw gatewayError('UPSTREAM_FAILED', 'model metadata', { cause: error });
  }
  endpoint.release(status >= 500 ? 'error' : 'ok');
  if (status !== 200) {
    throw gatewayError(
      'MODEL_UNAVAILABLE',
      `the runtime answered ${status} for ${variant.model} version ${variant.version}`,
    );
  }
  let runtime: ModelMetadata;
  try {
    runtime = JSON.parse(text) as ModelMetadata;
  } catch (error) {
    throw gatewayError('UPSTREAM_FAILED', 'the runtime sent model metadata that is not JSON', {
      cause: error,
    });
  }
  return {
    name,
    versions: [...new Set(serving.map((v) => v.version))],
    platform: runtime.platform,
    inputs: runtime.inputs,
    outputs: runtime.outputs,
    parameters: {
      variants: model.variants.map((v) => ({ name: v.name, version: v.version, weight: v.weight })),
      ...(model.contract ? { features: model.contract.features.map((f) => f.name) } : {}),
    },
  };
}
