import { Type } from '@sinclair/typebox';

/**
 * Names of models, variants, upstreams and tenants end up in URLs, response headers and metric
 * labels, so they are kept to characters that need no escaping in any of them.
 */
export const NAME_PATTERN = '^[a-zA-Z0-9_.-]+$';

export const NameSchema = Type.String({ pattern: NAME_PATTERN });
