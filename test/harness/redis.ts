import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface StartedRedis {
  url: string;
  port: number;
  /** The current server's PID (a restart gives a new one). */
  pid: number;
  /** SIGTERM, then SIGKILL if it has not exited within a bound. */
  stop(): Promise<void>;
  /** Stops the server if it runs and starts a fresh, empty one on the same port. */
  restart(): Promise<void>;
}

export const REDIS_NOT_FOUND = 'redis-server not found: apt-get install redis-server (.ci/run installs it)';

const STARTUP_TIMEOUT_MS = 5_000;
const STOP_GRACE_MS = 3_000;

const running = new Set<ChildProcess>();

// A test that fails before its own cleanup must not leave a redis-server behind.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts a throwaway redis-server on a free loopback port, with persistence off so a restart
 * is an empty server (what a crashed, non-persistent Redis looks like to the gateway).
 * Throws an Error whose message is {@link REDIS_NOT_FOUND} when the binary is missing, so
 * callers can turn it into a skip.
 */
/** REDIS_NOT_FOUND when this machine has no redis-server, for a test's `skip` option. */
export function redisMissing(): string | false {
  return findOnPath('redis-server') ? false : REDIS_NOT_FOUND;
}

export async function startRedis(options: { dir?: string } = {}): Promise<StartedRedis> {
  const binary = findOnPath('redis-server');
  if (!binary) throw new Error(REDIS_NOT_FOUND);
  // Where a test that turns persistence on (CONFIG SET appendonly yes) has it write: `dir` is
  // protected from CONFIG SET, and the default is the working directory.
  const extraArgs = options.dir ? ['--dir', options.dir] : [];

  let port = await freePort();
  let server: ChildProcess;
  try {
    server = await spawnRedis(binary, port, extraArgs);
  } catch {
    // Another process may have taken the port between our probe closing and redis binding it.
    port = await freePort();
    server = await spawnRedis(binary, port, extraArgs);
  }
  let current: ChildProcess | undefined = server;

  const handle: StartedRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: server.pid!,
    async stop() {
      if (!current) return;
      const child = current;
      current = undefined;
      await stopChild(child);
    },
    async restart() {
      await handle.stop();
      current = await spawnRedis(binary, port, extraArgs);
      handle.pid = current.pid!;
    },
  };
  return handle;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  await once(probe, 'close');
  if (address === null || typeof address === 'string') throw new Error('could not read a free port');
  return address.port;
}

async function spawnRedis(binary: string, port: number, extraArgs: string[]): Promise<ChildProcess> {
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  const output: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  let exited = false;
  child.once('exit', () => {
    exited = true;
    running.delete(child);
  });
  const spawnError = once(child, 'error').then(([error]) => error as Error);

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`redis-server on port ${port} exited at start:\n${output.join('')}`);
    if (await answersPing(port)) return child;
    const failed = await Promise.race([spawnError, delay(25).then(() => undefined)]);
    if (failed) throw new Error(`redis-server could not start: ${failed.message}`);
  }
  await stopChild(child);
  throw new Error(`redis-server on port ${port} did not answer PING in ${STARTUP_TIMEOUT_MS} ms`);
}

/** A raw RESP PING, so the harness (and the benchmarks) do not depend on the client under test. */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  // A test may have frozen the server (SIGSTOP) to simulate a hang; it cannot act on SIGTERM until resumed.
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
