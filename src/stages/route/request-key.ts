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
    return (ctx) => asKey(headerText(ctx.headers[name]));
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

const UTF8 = new TextDecoder('utf-8', { fatal: true });
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/**
 * Node reads header bytes as latin1, but clients send non-ASCII values as UTF-8: decode them so a
 * user key hashes the same from a header as from a JSON body. Bytes that are not UTF-8 stay as sent.
 */
function headerText(value: unknown): unknown {
  if (typeof value !== 'string' || ASCII.test(value)) return value;
  try {
    return UTF8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

function asKey(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
