import { createHash } from 'node:crypto';
import type { InferRequest } from '../../shared/oip.js';

/**
 * The key of an answer: model, version and a hash of exactly what the runtime was sent (the
 * inputs and the outputs asked for), so a key never matches a different question.
 */
export function inputKey(model: string, version: string, request: InferRequest): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(request.inputs))
    .update('\0')
    .update(JSON.stringify(request.outputs ?? null))
    .digest('base64url');
  return `${model}:${version}:in:${digest}`;
}

/** The key of the last good answer for an entity (e.g. the user) of this model version. */
export function entityKey(model: string, version: string, entity: string): string {
  return `${model}:${version}:entity:${createHash('sha256').update(entity).digest('base64url')}`;
}
