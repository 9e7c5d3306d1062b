/**
 * A metric's label children, bound once per distinct combination of label values. prom-client
 * checks and hashes a label object on every `inc`/`observe` otherwise; on the request path that
 * is several calls per request. Label values here are bounded (models, variants, outcomes), so
 * the map is too.
 */
export function boundLabels<Names extends string, Child>(
  bind: (labels: Record<Names, string>) => Child,
  names: readonly Names[],
): (...values: string[]) => Child {
  const children = new Map<string, Child>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = children.get(key);
    if (child === undefined) {
      const labels = Object.fromEntries(names.map((name, i) => [name, values[i] ?? ''])) as Record<
        Names,
        string
      >;
      child = bind(labels);
      children.set(key, child);
    }
    return child;
  };
}
