import type { RequestContext } from '../../pipeline/stage.js';

export type KeySource = Pick<RequestContext, 'headers' | 'body' | 'tenant'>;
export type KeyReader = (ctx: KeySource) => string | undefined;

/**
 * Builds a reader for a key spec: `header:NAME`, `body:dotted.path` (e.g. the decision body's
 * `user_id`) or `tenant`, or a list of them tried in order. Only strings and finite numbers count as keys; anything else is missing.
 */
export function createKeyReader(spec: string | readonly string[]): KeyReader {
  if (typeof spec !== 'string') {
    const readers = spec.map(createKeyReader);
    return (ctx) => {
      for (const read of readers) {
        const key = read(ctx);
        if (key !== undefined) return key;
      }
      return undefined;
    };
  }
  if (spec === 'tenant') return (ctx) => ctx.tenant?.name;
  if (spec.startsWith('header:')) {
    const name = spec.slice('header:'.length).toLowerCase();
    return (ctx) => asKey(ctx.headers[name]);
  }
  const path = spec.slice('body:'.length).split('.');
  return (ctx) => {
    let value: unknown = ctx.body;
    for (const part of path) {
      if (typeof value !== 'object' || value === null) return undefined;
      value = (value as Record<string, unknown>)[part];
    }
    return asKey(value);
  };
}

function asKey(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
