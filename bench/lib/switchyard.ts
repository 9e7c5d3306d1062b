import { existsSync, openSync, readFileSync, closeSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { spawnChild, type Child } from './children.js';
import { freePort, httpStatus, waitUntil } from './net.js';
import { freshDir, workDir } from './workdir.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DEMO_REPOSITORY = join(PROJECT_ROOT, 'config', 'models');
/** The compiled CLI: what users run, so no tsx loader in the measured processes. */
export const CLI = join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');

export interface Server extends Child {
  url: string;
  /** Where the process's stdout (pino JSON lines) and stderr go. */
  logFile: string;
}

function requireBuild(cli = CLI): void {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" first (npm run bench does)`);
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Working directory; by default the server's own temp dir. */
  cwd?: string;
  /** The server's own temp dir (its log, and its cwd unless `cwd` says otherwise); a fresh one by default. */
  dir?: string;
}

/**
 * Spawns a server whose stdout says where it listens, and waits until `findUrl` finds that URL in
 * its log. The log goes to a file rather than a pipe, so the benchmark process spends no CPU
 * reading it and a full pipe can never stall the server. It runs in its own temp dir (unless
 * `cwd` says otherwise), so whatever it writes to relative paths stays out of the project and is
 * removed at the end.
 */
export async function startLogged(
  name: string,
  command: string,
  args: string[],
  findUrl: (log: string) => string | undefined,
  options: StartOptions = {},
): Promise<Server> {
  const dir = options.dir ?? freshDir(name);
  const logFile = join(dir, 'out.log');
  const fd = openSync(logFile, 'a');
  const child = spawnChild(name, command, args, {
    cwd: options.cwd ?? dir,
    // No trace export: an OTEL_EXPORTER_OTLP_ENDPOINT in the caller's environment would send spans
    // off this machine and add their cost to some runs and not others.
    env: { ...process.env, OTEL_SDK_DISABLED: 'true', ...options.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let exitedWith: number | string | undefined;
  void child.exited.then((code) => (exitedWith = code));
  for (;;) {
    const url = findUrl(readFileSync(logFile, 'utf8'));
    if (url) return { ...child, url, logFile };
    if (exitedWith !== undefined || Date.now() > deadline) {
      const why = exitedWith !== undefined ? `exited (${exitedWith})` : 'did not start in time';
      await child.stop('SIGKILL');
      throw new Error(`${name} ${why}; its log:\n${tail(logFile)}`);
    }
    await sleep(25);
  }
}

/**
 * Starts `node dist/src/cli/main.js <role> <args>` and waits for its `switchyard listening` log
 * line, which carries the URL (it listens on port 0).
 */
export function startCli(
  role: 'runtime' | 'gateway',
  args: string[],
  options: StartOptions & { nodeArgs?: string[] } = {},
): Promise<Server> {
  requireBuild();
  return startLogged(
    role,
    process.execPath,
    [...(options.nodeArgs ?? []), CLI, role, ...args],
    (log) => listeningUrl(log, role),
    options,
  );
}

/** The first `{"msg": "switchyard listening", "role": ROLE, "url": ...}` line, parsed. */
export function listeningLine(log: string, role: string): { url: string; grpc_port?: number } | undefined {
  for (const text of log.split('\n')) {
    if (!text.includes('listening')) continue;
    try {
      const line = JSON.parse(text) as { msg?: string; role?: string; url?: string; grpc_port?: number };
      if (line.msg === 'switchyard listening' && line.role === role && line.url)
        return { url: line.url, ...(line.grpc_port === undefined ? {} : { grpc_port: line.grpc_port }) };
    } catch {
      // a partial line: the next poll reads it whole
    }
  }
  return undefined;
}

/** The URL of the first `{"msg": "switchyard listening", "role": ROLE, "url": ...}` line. */
export function listeningUrl(log: string, role: string): string | undefined {
  return listeningLine(log, role)?.url;
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A runtime on 127.0.0.1, port 0, waited for until every model version is loaded. */
export async function startRuntime(
  options: { repository?: string; addedLatencyMs?: number; logLevel?: string } = {},
): Promise<Server> {
  const args = ['--repository', options.repository ?? DEMO_REPOSITORY, '--host', '127.0.0.1', '--port', '0'];
  if (options.addedLatencyMs) args.push('--added-latency-ms', String(options.addedLatencyMs));
  // A short grace: at the end of a benchmark nothing it holds matters.
  args.push('--grace-ms', '2000', '--log-level', options.logLevel ?? 'info');
  const runtime = await startCli('runtime', args);
  try {
    await waitUntil(
      'runtime ready',
      async () => (await httpStatus(`${runtime.url}/v2/health/ready`)) === 200,
      60_000,
    );
  } catch (error) {
    await runtime.stop('SIGKILL');
    throw error;
  }
  return runtime;
}

const LEVELS_WITH_INFO = new Set(['trace', 'debug', 'info']);

/** The name of each gateway's prediction log file, in that gateway's temp dir. */
export const PREDICTION_LOG_FILE = 'predictions.jsonl';

/**
 * `config` with its prediction log in `dir`: on (as in production) unless BENCH_PREDICTION_LOG=off,
 * and never in the project (its default, `switchyard-predictions.jsonl`, is relative to the cwd).
 * With `state.redis_url` set the records go to a Redis stream and the file only takes a spill.
 * Fields the config sets itself win, but the path must stay in the benchmark's temp dir.
 */
function withPredictionLog(config: object, dir: string, enabled: boolean): object {
  const own = (config as { prediction_log?: { path?: unknown } }).prediction_log ?? {};
  const predictionLog = { enabled, path: join(dir, PREDICTION_LOG_FILE), ...own };
  const inWorkDir = relative(workDir(), resolve(dir, String(predictionLog.path)));
  if (inWorkDir.startsWith('..') || isAbsolute(inWorkDir))
    throw new Error(`prediction_log.path ${predictionLog.path} is outside the benchmark's temp dir`);
  return { ...config, prediction_log: predictionLog };
}

/**
 * A gateway on 127.0.0.1 with `config` written as YAML into its own temp dir, which is also its
 * cwd and holds its log and prediction log; waited for until /readyz is 200. Scenarios send a
 * checked request before measuring. It listens on port 0 and its log line gives the URL, except
 * at log levels above info, which do not print that line: then a free port is picked here and
 * passed with --port.
 */
export async function startGateway(
  config: object,
  options: {
    logLevel?: string;
    predictionLog?: boolean;
    nodeArgs?: string[];
    /** Another checkout's compiled CLI (a baseline to compare with); this project's by default. */
    cli?: string;
    /**
     * Also serve the gRPC front door (`--grpc-port`): on port 0, the port it got read from the
     * listening line's `grpc_port`; at log levels without that line, on a port picked here.
     */
    grpc?: boolean;
  } = {},
): Promise<Server & { grpcPort?: number }> {
  const dir = freshDir('gateway');
  const configPath = join(dir, 'gateway.yaml');
  writeFileSync(configPath, stringify(withPredictionLog(config, dir, options.predictionLog ?? true)));
  const logLevel = options.logLevel ?? 'info';
  const base = ['--config', configPath, '--host', '127.0.0.1', '--grace-ms', '2000', '--log-level', logLevel];
  const nodeArgs = options.nodeArgs ?? [];
  const cli = options.cli ?? CLI;
  requireBuild(cli);
  let gateway: Server;
  let grpcPort: number | undefined;
  if (LEVELS_WITH_INFO.has(logLevel)) {
    if (options.grpc) base.push('--grpc-port', '0');
    gateway = await startLogged(
      'gateway',
      process.execPath,
      [...nodeArgs, cli, 'gateway', ...base, '--port', '0'],
      (log) => {
        const line = listeningLine(log, 'gateway');
        grpcPort = line?.grpc_port;
        return line?.url;
      },
      { dir },
    );
    if (options.grpc && grpcPort === undefined) {
      await gateway.stop('SIGKILL');
      throw new Error(`the gateway's listening line has no grpc_port; its log:\n${tail(gateway.logFile)}`);
    }
  } else {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    if (options.grpc) {
      grpcPort = await freePort();
      base.push('--grpc-port', String(grpcPort));
    }
    gateway = await startLogged(
      'gateway',
      process.execPath,
      [...nodeArgs, cli, 'gateway', ...base, '--port', String(port)],
      () => url,
      { dir },
    );
  }
  try {
    await waitUntil('gateway ready', async () => (await httpStatus(`${gateway.url}/readyz`)) === 200);
  } catch (error) {
    await gateway.stop('SIGKILL');
    throw new Error(`${String(error)}; its log:\n${tail(gateway.logFile)}`);
  }
  return grpcPort === undefined ? gateway : { ...gateway, grpcPort };
}
