import { pointer, type ConfigProblem, type PathSegment } from './problem.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface Interpolated {
  value: unknown;
  problems: ConfigProblem[];
}

// `${NAME}`, `${NAME:-default}`, and `$${...}` for a literal `${...}`.
const REFERENCE = /\$(\$?)\{([^}]*)\}/g;
const NAME_WITH_DEFAULT = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * A copy of the parsed document with `${NAME}` and `${NAME:-default}` replaced in string values.
 * Running on parsed values rather than the raw text means a secret containing `: ` or `#` or a
 * newline stays one string and can't change the file's structure. As in a shell, `:-` also applies when the
 * variable is set but empty. Mapping keys are left alone: names are structure, not values.
 */
export function interpolateEnv(value: unknown, env: Env): Interpolated {
  const problems: ConfigProblem[] = [];

  // Copies as it goes, so nodes that YAML aliases share become separate values; an alias inside
  // its own anchor (`a: &a [*a]`) would make the copy endless, so it is a problem instead.
  const ancestors = new Set<object>();
  const visit = (node: unknown, path: PathSegment[]): unknown => {
    if (typeof node === 'string') return interpolateString(node, env, path, problems);
    if (node === null || typeof node !== 'object') return node;
    if (ancestors.has(node)) {
      problems.push({ path: pointer(path), message: 'a YAML alias refers to a node that contains it' });
      return null;
    }
    ancestors.add(node);
    let copy: unknown;
    if (Array.isArray(node)) {
      copy = node.map((item: unknown, index) => visit(item, [...path, index]));
    } else {
      const entries: [string, unknown][] = [];
      for (const [key, child] of Object.entries(node)) {
        // Object.assign (in applying defaults) would take this key as the object's prototype, and
        // the values under it would pass for real settings without being validated.
        if (key === '__proto__') {
          problems.push({ path: pointer([...path, key]), message: 'this key is not allowed' });
        } else {
          entries.push([key, visit(child, [...path, key])]);
        }
      }
      copy = Object.fromEntries(entries);
    }
    ancestors.delete(node);
    return copy;
  };

  return { value: visit(value, []), problems };
}

function interpolateString(text: string, env: Env, path: PathSegment[], problems: ConfigProblem[]): string {
  return text.replace(REFERENCE, (whole: string, escaped: string, inner: string) => {
    if (escaped) return whole.slice(1);
    const match = NAME_WITH_DEFAULT.exec(inner);
    if (!match) {
      problems.push({
        path: pointer(path),
        message: `invalid variable reference "\${${inner}}" (use \${NAME} or \${NAME:-default}; $\${...} for a literal)`,
      });
      return whole;
    }
    const name = match[1] ?? '';
    const fallback = match[2];
    const set = env[name];
    if (set !== undefined && !(fallback !== undefined && set === '')) return set;
    if (fallback !== undefined) return fallback;
    problems.push({
      path: pointer(path),
      message: `environment variable ${name} is not set (write \${${name}:-default} to give it a default)`,
    });
    return whole;
  });
}
