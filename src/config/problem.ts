/** One thing wrong with a config file, at a JSON pointer into it ('' is the whole document). */
export interface ConfigProblem {
  path: string;
  message: string;
}

export type PathSegment = string | number;

/** How a cross-section rule reports one problem: where (as segments) and what. */
export type Report = (path: PathSegment[], message: string) => void;

/** RFC 6901: the same escaping TypeBox uses for its error paths, so both kinds of problem line up. */
export function pointer(segments: readonly PathSegment[]): string {
  return segments.map((segment) => '/' + String(segment).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

export function unescapePointerSegment(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Problems grouped by where they are (numbers compared as numbers, so /variants/2 precedes /variants/10). */
export function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}
