import { createHash } from 'node:crypto';
import type { RequestContext } from '../../pipeline/stage.js';
import { binaryOf } from '../../shared/binary-tensors.js';
import type { InferRequest } from '../../shared/oip.js';
import { createKeyReader } from '../route/request-key.js';
import type { CacheConfig } from './config.js';

/**
 * The key of an answer: model, version and a hash of exactly what the runtime was sent (the
 * inputs and the outputs asked for), so a key never matches a different question.
 */
export function inputKey(model: string, version: string, request: InferRequest): string {
  const digest = createHash('sha256').update(JSON.stringify(request.inputs));
  // Binary inputs (the binary tensor extension) have no data in their JSON: their bytes, as they
  // came, not decoded.
  for (const input of request.inputs) {
    const bytes = binaryOf(input);
    if (bytes !== undefined) digest.update(bytes);
  }
  digest.update('\0').update(JSON.stringify(request.outputs ?? null));
  return `${model}:${version}:in:${digest.digest('base64url')}`;
}

/** The key of the last good answer for an entity (e.g. the user) of this model version. */
export function entityKey(model: string, version: string, entity: string): string {
  return `${model}:${version}:entity:${createHash('sha256').update(entity).digest('base64url')}`;
}

/** Where one request's answer is kept: by input, and by entity when the model names one. */
export interface CacheKeys {
  input: string;
  entity: string | undefined;
}

/**
 * A request's cache keys, for the variant it was routed to. The cache stage and the cache
 * fallback each build theirs from the same config, so neither depends on the other having run.
 */
export function createCacheKeys(
  modelName: string,
  cache: Pick<CacheConfig, 'entity_key'>,
): (ctx: Pick<RequestContext, 'variant' | 'inference' | 'headers' | 'body' | 'tenant'>) => CacheKeys {
  const readEntity = cache.entity_key ? createKeyReader(cache.entity_key) : undefined;
  return (ctx) => {
    const version = ctx.variant!.version;
    const entity = readEntity?.(ctx);
    return {
      input: inputKey(modelName, version, ctx.inference!),
      entity: entity === undefined ? undefined : entityKey(modelName, version, entity),
    };
  };
}
