import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Env } from './interpolate.js';
import { loadConfigText, parseConfigText } from './load.js';
import type { ConfigProblem } from './problem.js';
import type { ConfigSnapshot } from './snapshot.js';

export interface ConfigWatchHandlers {
  /**
   * The file changed and is valid. A change that keeps the settings (a comment, key order) gives a
   * snapshot with the same `hash`; compare it with the one in use before rebuilding anything.
   */
  onSnapshot(snapshot: ConfigSnapshot): void;
  /** The file changed and is invalid; keep serving the config in use. */
  onInvalid(problems: ConfigProblem[]): void;
  /** The file can't be read (other than briefly missing), or a handler threw. Must not throw. */
  onError(error: Error): void;
}

export interface ConfigWatchOptions {
  /** Events within this long are one change: an editor's save or a ConfigMap swap fires several. */
  debounce_ms?: number;
  /** Read the file this often whatever the events say, for filesystems where fs.watch misses some. */
  poll_ms?: number;
  env?: Env;
  /**
   * The snapshot the caller serves. If the file no longer matches it when watching starts (it
   * changed between loading and watching), that is reported as the first change.
   */
  initial?: ConfigSnapshot;
}

export interface ConfigWatcher {
  close(): void;
}

/**
 * Reports every change of the config file at `path`, as a new snapshot or as the problems that
 * keep it from being one. Changes after watchConfig returns are reported; the content at that
 * moment is the baseline.
 *
 * Three sources, because each misses something: a watcher on the file (follows the symlink to
 * the current target, goes stale when that target is deleted), a watcher on its directory (sees a
 * Kubernetes ConfigMap update, where `..data` is atomically re-pointed to a new timestamped
 * directory and nothing touches the old file, and an editor's rename-over-the-original), and a
 * poll. Whatever triggers it, a check reads through the path and does nothing unless the bytes
 * differ from the last ones handled.
 */
export function watchConfig(
  path: string,
  handlers: ConfigWatchHandlers,
  options: ConfigWatchOptions = {},
): ConfigWatcher {
  const { debounce_ms: debounceMs = 50, poll_ms: pollMs = 1000, env = process.env, initial } = options;
  const file = resolve(path);
  const directory = dirname(file);

  let closed = false;
  let lastDigest = readBaselineDigest(file, env, initial);
  let fileWatcher: FSWatcher | undefined;
  let fileWatcherTarget: string | undefined;
  let directoryWatcher: FSWatcher | undefined;
  let debounceTimer: NodeJS.Timeout | undefined;
  let checking = false;
  let checkAgain = false;
  let missingSince: number | undefined;
  let missingReported = false;

  const reportError = (error: unknown): void => {
    if (closed) return;
    try {
      handlers.onError(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // onError is the last place to report to; throwing from a timer would take the process down.
    }
  };

  const deliver = (handler: () => void): void => {
    if (closed) return;
    try {
      handler();
    } catch (error) {
      reportError(error);
    }
  };

  const schedule = (): void => {
    if (closed) return;
    clearTimeout(debounceTimer);
    debounceTimer = setTimeout(() => void check(), debounceMs);
  };

  const onWatcherError = (which: 'file' | 'directory') => (): void => {
    // The watched inode or directory went away; the next check attaches to whatever is there now.
    if (which === 'file') {
      fileWatcher?.close();
      fileWatcher = undefined;
    } else {
      directoryWatcher?.close();
      directoryWatcher = undefined;
    }
    schedule();
  };

  const attachDirectoryWatcher = (): void => {
    if (directoryWatcher || closed) return;
    try {
      directoryWatcher = watch(directory, schedule);
      directoryWatcher.on('error', onWatcherError('directory'));
    } catch {
      directoryWatcher = undefined; // the directory is missing: the poll retries
    }
  };

  /** (Re)attach when the path now leads to a different file: a new ConfigMap target or a replaced inode. */
  const attachFileWatcher = async (): Promise<void> => {
    let target: string;
    try {
      const [real, stats] = await Promise.all([realpath(file), stat(file)]);
      target = `${real}#${stats.ino}`;
    } catch {
      return;
    }
    if (closed || (fileWatcher && target === fileWatcherTarget)) return;
    fileWatcher?.close();
    fileWatcher = undefined;
    try {
      fileWatcher = watch(file, schedule);
      fileWatcher.on('error', onWatcherError('file'));
      fileWatcherTarget = target;
    } catch {
      fileWatcher = undefined;
    }
  };

  const checkOnce = async (): Promise<void> => {
    attachDirectoryWatcher();
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
      // A plain (non-atomic) save truncates the file before writing it: an empty file is a
      // write in progress, handled like a missing one rather than as an invalid config.
      if (bytes.length === 0) throw Object.assign(new Error('config file is empty'), { code: 'ENOENT' });
    } catch (error) {
      if (!isNotFound(error)) return reportError(error);
      // Editors save by renaming over the file, so it is missing for a moment; only a lasting
      // absence is worth a report (once), and the config in use keeps serving either way.
      missingSince ??= Date.now();
      if (!missingReported && Date.now() - missingSince >= pollMs) {
        missingReported = true;
        reportError(new Error(`config file ${file} is missing; keeping the config in use`));
      }
      return;
    }
    missingSince = undefined;
    missingReported = false;
    await attachFileWatcher();

    const digest = sha256(bytes);
    if (digest === lastDigest) return;
    lastDigest = digest;
    const result = await loadConfigText(bytes.toString('utf8'), env, path);
    if (result.ok) deliver(() => handlers.onSnapshot(result.snapshot));
    else deliver(() => handlers.onInvalid(result.problems));
  };

  /** One check at a time; triggers that arrive during one run it once more afterwards. */
  const check = async (): Promise<void> => {
    if (closed) return;
    if (checking) {
      checkAgain = true;
      return;
    }
    checking = true;
    try {
      do {
        checkAgain = false;
        await checkOnce();
      } while (checkAgain && !closed);
    } catch (error) {
      reportError(error);
    } finally {
      checking = false;
    }
  };

  const pollTimer = setInterval(() => void check(), pollMs);
  // Attaches the watchers, and reports at once if the baseline says the content is new.
  void check();

  return {
    close(): void {
      closed = true;
      clearTimeout(debounceTimer);
      clearInterval(pollTimer);
      fileWatcher?.close();
      directoryWatcher?.close();
      fileWatcher = undefined;
      directoryWatcher = undefined;
    },
  };
}

/**
 * The digest of the file as it is now, read synchronously so that an edit made right after
 * watchConfig returns can't be mistaken for the baseline. Undefined when the first check should
 * report the content: the file is missing, or it no longer matches the caller's snapshot.
 */
function readBaselineDigest(file: string, env: Env, initial: ConfigSnapshot | undefined): string | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  if (initial) {
    const result = parseConfigText(bytes.toString('utf8'), env, file);
    if (!result.ok || result.snapshot.hash !== initial.hash) return undefined;
  }
  return sha256(bytes);
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error.code === 'ENOENT' || error.code === 'ENOTDIR');
}
