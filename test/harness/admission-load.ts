/**
 * Requests for the admission scenarios (test/admission): one answer with its error code and the
 * headers admission sets, and a closed loop bounded in count and time that keeps every answer.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { wireError } from './http.js';

/** One request and what came back; `status` 0 means no HTTP answer (refused, reset, timeout). */
export interface Shot {
  index: number;
  /** Which target the request went to (the index into `targets`). */
  target: number;
  requestId: string;
  /** `performance.now()` of the test process. */
  sentAt: number;
  doneAt: number;
  status: number;
  /** `error.code` of an error body. */
  code: string | undefined;
  message: string | undefined;
  problems: { path: string; message: string }[] | undefined;
  headers: Record<string, string>;
  text: string;
  /** The client-side error when no answer came. */
  error?: string;
}

export interface Target {
  url: string;
  body: unknown;
  headers?: Record<string, string>;
}

/** POSTs `target` (a string body is sent as it is) and keeps everything a test may assert on. */
export async function shoot(
  dispatcher: Agent,
  target: Target,
  meta: { index?: number; target?: number; requestId?: string; timeoutMs?: number } = {},
): Promise<Shot> {
  const requestId = meta.requestId ?? `shot-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const sentAt = performance.now();
  const base = { index: meta.index ?? 0, target: meta.target ?? 0, requestId, sentAt };
  try {
    const response = await request(target.url, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...target.headers },
      body: typeof target.body === 'string' ? target.body : JSON.stringify(target.body),
      headersTimeout: meta.timeoutMs ?? 10_000,
      bodyTimeout: meta.timeoutMs ?? 10_000,
    });
    const text = await response.body.text();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const failure = errorOf(text);
    return {
      ...base,
      doneAt: performance.now(),
      status: response.statusCode,
      code: failure?.code,
      message: failure?.message,
      problems: failure?.problems,
      headers,
      text,
    };
  } catch (error) {
    return {
      ...base,
      doneAt: performance.now(),
      status: 0,
      code: undefined,
      message: undefined,
      problems: undefined,
      headers: {},
      text: '',
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
  }
}

function errorOf(
  text: string,
): { code: string; message: string; problems?: { path: string; message: string }[] } | undefined {
  try {
    return wireError(text);
  } catch {
    return undefined;
  }
}

export interface LoopOptions {
  /** Request `i` goes to `targets[i % targets.length]`. */
  targets: Target[];
  workers: number;
  /** No request starts after this many in total. */
  maxRequests: number;
  /** No request starts after this long. */
  maxMs: number;
  /** Paces request `i` to start no earlier than `i / ratePerSecond` s into the run. */
  ratePerSecond?: number;
  /** Prefix of the `x-request-id` of request `i` (`<prefix>-<i>`). */
  idPrefix?: string;
  /** Client-side limit of one request. Default 10 s. */
  requestTimeoutMs?: number;
}

export interface Loop {
  readonly shots: readonly Shot[];
  /** Starts no more requests; resolves when every worker has its last answer. */
  stop(): Promise<Shot[]>;
  /** Resolves when the run ends by count, time or stop(). */
  readonly finished: Promise<Shot[]>;
}

/**
 * `workers` loops over an agent of their own, each sending its next request when the previous
 * one is answered, bounded by `maxRequests` and `maxMs` together.
 */
export function closedLoop(options: LoopOptions): Loop {
  const agent = new Agent({ connections: options.workers, pipelining: 1, keepAliveTimeout: 10_000 });
  const shots: Shot[] = [];
  const startedAt = performance.now();
  const deadline = startedAt + options.maxMs;
  const prefix = options.idPrefix ?? `loop-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let next = 0;
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped && next < options.maxRequests && performance.now() < deadline) {
      const index = next++;
      if (options.ratePerSecond !== undefined) {
        const wait = startedAt + (index * 1000) / options.ratePerSecond - performance.now();
        if (wait > 0) await sleep(wait);
        if (stopped || performance.now() >= deadline) break;
      }
      const target = index % options.targets.length;
      shots.push(
        await shoot(agent, options.targets[target]!, {
          index,
          target,
          requestId: `${prefix}-${index}`,
          timeoutMs: options.requestTimeoutMs,
        }),
      );
    }
  };
  const finished = Promise.all(Array.from({ length: options.workers }, worker))
    .finally(() => agent.close())
    .then(() => shots);
  return {
    shots,
    stop() {
      stopped = true;
      return finished;
    },
    finished,
  };
}

/** How many shots had each status, e.g. `{"200": 160, "429": 2000}`. */
export function statusCounts(shots: readonly Shot[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const shot of shots) counts[shot.status] = (counts[shot.status] ?? 0) + 1;
  return counts;
}

/** |actual − expected| ≤ tolerance × expected. */
export function within(actual: number, expected: number, tolerance: number): boolean {
  return Math.abs(actual - expected) <= tolerance * expected;
}
