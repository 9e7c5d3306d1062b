import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let root: string | undefined;

/**
 * One temp directory per benchmark process for generated configs, pid files, logs and bodies,
 * so nothing is written under /etc, /var or /run. Removed at exit unless BENCH_KEEP_TMP=1 (to
 * read the servers' logs after a failure).
 */
export function workDir(sub?: string): string {
  if (!root) {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
    root = dir;
    process.on('exit', () => {
      if (process.env.BENCH_KEEP_TMP === '1') process.stderr.write(`bench: kept ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    });
  }
  if (!sub) return root;
  const dir = join(root, sub);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A fresh, unused subdirectory name under the work dir (`nginx-1`, `nginx-2`, ...). */
export function freshDir(prefix: string): string {
  counters.set(prefix, (counters.get(prefix) ?? 0) + 1);
  return workDir(`${prefix}-${counters.get(prefix)}`);
}

const counters = new Map<string, number>();
