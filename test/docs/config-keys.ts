/**
 * Every key path of a TypeBox (JSON) schema, as the README's config reference writes them:
 * `upstreams.NAME.health.interval_ms`, `models.NAME.variants[].weight`, `tenants[].scopes`. A record
 * (a map keyed by a name) is `NAME`, a list of objects `[]`; a list of plain values, a map of
 * plain values and a union of plain values are one key. Each with its default and whether the
 * file must give it.
 */
export interface ConfigKey {
  path: string;
  default?: unknown;
  required: boolean;
}

type Schema = Record<string, unknown> & {
  properties?: Record<string, Schema>;
  patternProperties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  required?: string[];
};

/** Has keys of its own below it: an object with properties, a map of objects, a list of them. */
function branches(schema: Schema): boolean {
  if (schema.properties) return true;
  if (schema.patternProperties) return Object.values(schema.patternProperties).some(branches);
  if (schema.items) return branches(schema.items);
  if (schema.anyOf) return schema.anyOf.some(branches);
  return false;
}

export function configKeys(schema: Schema): ConfigKey[] {
  const keys = new Map<string, ConfigKey>();
  const walk = (node: Schema, path: string, required: boolean, leafDefault?: unknown): void => {
    if (!branches(node)) {
      if (!keys.has(path)) {
        const key: ConfigKey = { path, required: required && !('default' in node) };
        if ('default' in node) key.default = node.default;
        else if (leafDefault !== undefined) key.default = leafDefault;
        keys.set(path, key);
      }
      return;
    }
    if (node.properties) {
      for (const [name, child] of Object.entries(node.properties)) {
        walk(child, path ? `${path}.${name}` : name, (node.required ?? []).includes(name));
      }
    }
    if (node.patternProperties) {
      for (const child of Object.values(node.patternProperties)) walk(child, `${path}.NAME`, false);
    }
    if (node.items) walk(node.items, `${path}[]`, false);
    if (node.anyOf) {
      // The members that are objects are walked; a plain member makes the path a key of its own.
      for (const member of node.anyOf) {
        if (branches(member)) walk(member, path, false);
        else if (!keys.has(path)) keys.set(path, { path, required: false });
      }
    }
  };
  walk(schema, '', true);
  return [...keys.values()];
}
