/**
 * Real HTTP servers and bounded waits for the upstream tests. Not a test itself; it lives here
 * because the tests beside the modules are its only users.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UpstreamConfig } from '../../src/runtime-pool/config.js';
import type { Endpoint, Outcome } from '../../src/runtime-pool/endpoint.js';
import type { Logger } from '../../src/shared/logger.js';
import type { UpstreamPool } from '../../src/runtime-pool/pool.js';

/** A runtime stand-in answering the OIP ready and infer paths as the test sets them. */
export interface TestRuntime {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Status of GET /v2/health/ready; 'hold' never answers (a hung runtime). */
  ready: number | 'hold';
  /** Status of POST /v2/models/m/infer; 'hold' keeps requests open until releaseHeld(). */
  infer: number | 'hold';
  readonly readyRequests: Map<number, number>;
  inferRequests: number;
  readonly held: number;
  releaseHeld(status?: number): void;
  close(): Promise<void>;
}

export async function startRuntime(options: { host?: string; port?: number } = {}): Promise<TestRuntime> {
  const host = options.host ?? '127.0.0.1';
  const held: ServerResponse[] = [];
  const state = { ready: 200 as number | 'hold', infer: 200 as number | 'hold', inferRequests: 0 };
  const readyRequests = new Map<number, number>();

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/v2/health/ready') {
      if (state.ready === 'hold') return; // closeAllConnections() ends it
      readyRequests.set(state.ready, (readyRequests.get(state.ready) ?? 0) + 1);
      res.writeHead(state.ready).end();
      return;
    }
    if (req.method === 'POST' && req.url === '/v2/models/m/infer') {
      state.inferRequests += 1;
      req.resume();
      if (state.infer === 'hold') held.push(res);
      else res.writeHead(state.infer, { 'content-type': 'application/json' }).end('{"outputs":[]}');
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(options.port ?? 0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    host,
    port,
    get ready() {
      return state.ready;
    },
    set ready(status: number | 'hold') {
      state.ready = status;
    },
    get infer() {
      return state.infer;
    },
    set infer(mode: number | 'hold') {
      state.infer = mode;
    },
    readyRequests,
    get inferRequests() {
      return state.inferRequests;
    },
    set inferRequests(n: number) {
      state.inferRequests = n;
    },
    get held() {
      return held.length;
    },
    releaseHeld(status = 200) {
      for (const res of held.splice(0)) res.writeHead(status).end('{"outputs":[]}');
    },
    async close() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** An upstream config with fast timers; the TypeBox defaults are not applied outside config loading. */
export function testConfig(overrides: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return {
    health: {
      path: '/v2/health/ready',
      interval_ms: 60_000,
      timeout_ms: 2000,
      unhealthy_after: 2,
      healthy_after: 2,
    },
    outlier: { consecutive_errors: 3, eject_ms: 1000, max_eject_ms: 3000, max_ejected_percent: 50 },
    connections: 4,
    connect_timeout_ms: 2000,
    ...overrides,
  };
}

/** Polls `condition` every 5 ms; fails the test after `timeoutMs` (never more than 5 s). */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + Math.min(timeoutMs, 5000);
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves true if `promise` settles within `ms`, false otherwise. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const result = await Promise.race([promise.then(() => true as const), late]);
  clearTimeout(timer);
  return result;
}

/**
 * Sends one infer request to an endpoint already counted in flight and releases it with the
 * outcome the gateway would report: 'error' for a connection error, a timeout or a 5xx.
 */
export async function infer(endpoint: Endpoint): Promise<{ status: number | 'error'; outcome: Outcome }> {
  let status: number | 'error' = 'error';
  try {
    const response = await endpoint.dispatcher!.request({
      method: 'POST',
      path: '/v2/models/m/infer',
      headers: { 'content-type': 'application/json' },
      body: '{"inputs":[]}',
      signal: AbortSignal.timeout(3000),
    });
    await response.body.dump();
    status = response.statusCode;
  } catch {
    status = 'error';
  }
  const outcome: Outcome = status === 'error' || status >= 500 ? 'error' : 'ok';
  endpoint.release(outcome);
  return { status, outcome };
}

/** pick() then infer(); undefined when nothing was eligible. */
export async function inferThroughPool(
  pool: UpstreamPool,
): Promise<{ endpoint: Endpoint; status: number | 'error' } | undefined> {
  const endpoint = pool.pick();
  if (endpoint === undefined) return undefined;
  const { status } = await infer(endpoint);
  return { endpoint, status };
}

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
}

export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (obj: object, msg: string): void => {
      entries.push({ level, msg, obj: { ...obj } });
    };
  return { entries, info: at('info'), warn: at('warn'), error: at('error') };
}

/** A deterministic [0, 1) source (mulberry32), so balancer-dependent tests do not flake. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
