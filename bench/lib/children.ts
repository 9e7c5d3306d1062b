import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { processTree } from './cpu.js';

/** A process this benchmark started; stopped by its PID, never by name. */
export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends `signal` (SIGTERM by default), then SIGKILL after `graceMs`; resolves once it exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

const running = new Map<number, Child>();
let hooksInstalled = false;
let interrupted = false;

/** True once a signal asked the benchmark to stop: failures after that are the stop, not a bug. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/**
 * Every exit path of the benchmark process must leave no server behind: a normal end, an
 * exception, Ctrl-C. `exit` handlers cannot wait, so the last resort there is SIGKILL by PID.
 */
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const child of running.values()) killTree(child.pid);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      interrupted = true;
      process.stderr.write(`\nbench: ${signal}: stopping ${running.size} process(es) it started\n`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * SIGKILL to `pid` and the processes it started (nginx's worker), found by PID in /proc before
 * any is killed: a killed master cannot stop its workers, which would otherwise live on.
 */
function killTree(pid: number): void {
  for (const member of processTree(pid)) killQuietly(member, 'SIGKILL');
}

/** Spawns a process and tracks it until it exits, so the hooks above can always stop it. */
export function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Child {
  installHooks();
  const child = spawn(command, args, { stdio: 'ignore', ...options });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  const exited = once(child, 'exit').then(([code, signal]) => {
    running.delete(pid);
    return (code ?? signal) as number | string;
  });
  const handle: Child = {
    name,
    pid,
    process: child,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      if (signal === 'SIGKILL') killTree(pid);
      else killQuietly(pid, signal);
      const timer = setTimeout(() => killTree(pid), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  running.set(pid, handle);
  return handle;
}

/** Stops every process still running, in reverse start order (gateways before the runtimes they call). */
export async function stopAll(): Promise<void> {
  const children = [...running.values()].reverse();
  for (const child of children) await child.stop('SIGTERM', 5_000);
}
