import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmt, printTable } from './table.js';

/** The parts of a V8 .cpuprofile (what `node --cpu-prof` writes) that a self-time summary needs. */
interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfPercent: number;
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length);
  const project = url.indexOf('/dist/');
  if (project >= 0) return url.slice(project + 1);
  return url.replace(/^file:\/\//, '') || '(native)';
}

/** Groups a location into a package (or the project's own code, or Node's internals). */
function owner(url: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1]!;
  if (url.includes('/dist/')) return 'switchyard';
  if (url.startsWith('node:')) return 'node';
  return url ? url : '(native / gc / idle)';
}

/**
 * Self time by function and by package, from the newest .cpuprofile in `dir`: where the gateway's
 * CPU went, for the note on a missed target. Idle time (`(idle)`) is left out of the percentages.
 */
export function summarizeProfile(
  dir: string,
  top = 20,
): { file: string; functions: ProfileEntry[]; javascript: ProfileEntry[]; owners: ProfileEntry[] } {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  const file = files.at(-1);
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const byFunction = new Map<string, { name: string; where: string; hits: number }>();
  const byOwner = new Map<string, number>();
  let busy = 0;
  for (const node of profile.nodes) {
    const count = hits.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (count === 0 || functionName === '(idle)') continue;
    busy += count;
    const name = functionName || '(anonymous)';
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`;
    const entry = byFunction.get(key) ?? { name, where, hits: 0 };
    entry.hits += count;
    byFunction.set(key, entry);
    const group = url ? owner(url) : name;
    byOwner.set(group, (byOwner.get(group) ?? 0) + count);
  }
  const percent = (count: number) => Math.round((count / busy) * 1000) / 10;
  return {
    file: join(dir, file),
    functions: [...byFunction.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, selfPercent: percent(e.hits) })),
    // Native frames (writev, GC, ...) also absorb the time the thread waits for a core on a busy
    // machine; the JavaScript-only list is the one to act on.
    javascript: [...byFunction.values()]
      .filter((e) => e.where !== '')
      .sort((a, b) => b.hits - a.hits)
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, selfPercent: percent(e.hits) })),
    owners: [...byOwner.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, count]) => ({ name, where: '', selfPercent: percent(count) })),
  };
}

/** Prints a summary's tables: every function by self time, JavaScript only, and by package. */
export function printProfile(profile: ReturnType<typeof summarizeProfile>, title: string): void {
  const functions = (entries: ProfileEntry[]) => entries.map((e) => [e.name, e.where, fmt(e.selfPercent, 1)]);
  printTable(
    `${title}, self time (${profile.file})`,
    ['function', 'where', '%'],
    functions(profile.functions),
  );
  printTable('JavaScript only (same percentages)', ['function', 'where', '%'], functions(profile.javascript));
  printTable(
    'by package',
    ['package', '%'],
    profile.owners.map((e) => [e.name, fmt(e.selfPercent, 1)]),
  );
}
