import { fileURLToPath } from 'node:url';
import { spawnChild } from './children.js';
import { numberSetting } from './settings.js';
import { requireTool } from './tools.js';

const SCRIPT = fileURLToPath(new URL('./post.lua', import.meta.url));

export interface LoadOptions {
  /** Full URL; only 127.0.0.1 is allowed. */
  url: string;
  connections: number;
  seconds: number;
  /** A file holding the JSON body (written once per scenario: textdir's is ~300 kB). */
  bodyFile: string;
  headers?: Record<string, string>;
  /** Send a different user id per request in this header (cycling through `users`). */
  userHeader?: string;
  users?: number;
  /** wrk threads (default BENCH_WRK_THREADS or 1: on 2 cores every thread is taken from the servers). */
  threads?: number;
  /** Per-request timeout; a request past it counts as an error and not in the latency. */
  timeoutSeconds?: number;
}

export interface LoadResult {
  url: string;
  connections: number;
  /** Completed responses (any status) per second of the run. */
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
  /** Completed responses, any status. */
  requests: number;
  /** Responses with a status outside 2xx/3xx. */
  non2xx: number;
  /** Socket errors: connect, read, write, timeout. */
  errors: number;
  durationS: number;
}

interface WrkSummary {
  requests: number;
  duration_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  mean_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
}

function assertLoopback(url: string): void {
  const { hostname } = new URL(url);
  if (hostname !== '127.0.0.1') throw new Error(`load is only sent to 127.0.0.1, not ${hostname}`);
}

/**
 * One closed-loop load run with wrk: `connections` keep-alive connections, each sending its next
 * request when the previous answer arrived, for `seconds`. Percentiles come from wrk's complete
 * per-response latency record. Bounded twice: by wrk's -d and by a kill after a margin.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  assertLoopback(options.url);
  const wrk = requireTool('wrk');
  const seconds = Math.max(1, Math.round(options.seconds));
  const threads = Math.min(
    options.connections,
    options.threads ?? Math.round(numberSetting('BENCH_WRK_THREADS', 1, 1)),
  );
  const timeout = options.timeoutSeconds ?? 5;
  const args = [
    '-t',
    String(threads),
    '-c',
    String(options.connections),
    '-d',
    `${seconds}s`,
    '--timeout',
    `${timeout}s`,
    '-s',
    SCRIPT,
    options.url,
  ];
  const env = {
    ...process.env,
    BENCH_BODY_FILE: options.bodyFile,
    BENCH_HEADERS: Object.entries(options.headers ?? {})
      .map(([name, value]) => `${name}: ${value}`)
      .join('\n'),
    BENCH_USER_HEADER: options.userHeader ?? '',
    BENCH_USERS: String(options.users ?? 1000),
  };
  const child = spawnChild('wrk', wrk, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.process.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const killer = setTimeout(() => void child.stop('SIGKILL'), (seconds + timeout + 15) * 1000);
  const code = await child.exited;
  clearTimeout(killer);
  const line = output.split('\n').find((text) => text.startsWith('BENCH_RESULT '));
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} failed (${code}):\n${output}`);
  const summary = JSON.parse(line.slice('BENCH_RESULT '.length)) as WrkSummary;
  const durationS = summary.duration_us / 1e6;
  return {
    url: options.url,
    connections: options.connections,
    rps: summary.requests / durationS,
    p50Ms: summary.p50_us / 1000,
    p90Ms: summary.p90_us / 1000,
    p99Ms: summary.p99_us / 1000,
    p999Ms: summary.p999_us / 1000,
    maxMs: summary.max_us / 1000,
    meanMs: summary.mean_us / 1000,
    requests: summary.requests,
    non2xx: summary.status,
    errors: summary.connect + summary.read + summary.write + summary.timeout,
    durationS,
  };
}
