import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The node arguments that run the switchyard command. `npm test` builds first and sets
 * SWITCHYARD_TEST_CLI=dist: the suite then runs the compiled CLI, as users do, which starts in
 * about half the time of the sources through tsx (it compiles each file on load), and the suite
 * starts some hundreds of processes. A test file run by hand runs the sources, so it needs no build.
 */
export const CLI: readonly string[] =
  process.env.SWITCHYARD_TEST_CLI === 'dist'
    ? [join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js')]
    : ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli', 'main.ts')];

export interface StartedProcess {
  pid: number;
  /** The URL the process logged as its listening address. */
  url: string;
  child: ChildProcess;
  /** Every stdout line so far, parsed when it is JSON (pino logs). */
  logs: LogLine[];
  /** Sends `signal` and waits for the exit; resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

export type LogLine = Record<string, unknown> & { msg?: string };

const running = new Set<ChildProcess>();

// A test that fails before its own cleanup must not leave processes behind.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `switchyard <args>` (see CLI) and waits for its
 * `switchyard listening` line, which carries the URL (the process listens on port 0).
 */
export async function startSwitchyard(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; role?: string; timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<StartedProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...CLI, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = once(child, 'exit').then(([code, signal]) => {
    running.delete(child);
    return (code ?? signal) as number | string;
  });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`switchyard ${args.join(' ')} did not start in time:\n${stderr.join('')}`)),
      options.timeoutMs ?? 20_000,
    );
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new Error(`switchyard ${args.join(' ')} exited (${code}) before listening:\n${stderr.join('')}`),
      );
    });
    createInterface({ input: child.stdout! }).on('line', (text) => {
      const line = parseLine(text);
      logs.push(line);
      const role = options.role ?? args[0];
      if (line.msg === 'switchyard listening' && (role === undefined || line.role === role)) {
        clearTimeout(timer);
        resolve(String(line.url));
      }
    });
  }).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw error;
  });

  return {
    pid: child.pid!,
    url,
    child,
    logs,
    async stop(signal = 'SIGTERM', timeoutMs = 35_000) {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

function parseLine(text: string): LogLine {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null) return value as LogLine;
  } catch {
    // not JSON: keep the raw text
  }
  return { text };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
