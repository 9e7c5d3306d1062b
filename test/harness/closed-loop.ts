import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';

/** One request of a load run. Times are `performance.now()` of the test process. */
export interface LoadSample {
  worker: number;
  sentAt: number;
  doneAt: number;
  /**
   * HTTP status, or 0 when no response came (refused, reset, client timeout); a gRPC load writes
   * 200 for OK and 0 for any other status, named in `error`.
   */
  status: number;
  /** The `x-switchyard-variant` header (or trailer) of the answer. */
  variant: string | undefined;
  /** The `x-switchyard-fallback` header: set when a fallback answered instead of the model. */
  fallback: string | undefined;
  /** What went wrong, for a non-200 answer (start of its body) or a client-side error. */
  error?: string;
}

/** How many requests a loop sends, how fast and for how long, whatever it sends them over. */
export interface LoopOptions {
  /** Concurrent workers; each sends its next request when the previous one is answered. */
  workers: number;
  /** No request starts after this many in total. */
  maxRequests: number;
  /** No request starts after this long. */
  maxMs: number;
  /**
   * Request `i` starts no earlier than `i / ratePerSecond` seconds into the run, so the load is
   * steady rather than as fast as the machine goes (and leaves CPU to the processes under test).
   * Without it every worker sends its next request as soon as the previous one is answered.
   */
  ratePerSecond?: number;
}

export interface LoadOptions extends LoopOptions {
  /** Where every request is POSTed. */
  url: string;
  /** The JSON body and extra headers of request `index`. */
  request: (index: number) => { body: unknown; headers?: Record<string, string> };
  /** Client-side limit of one request; a request past it counts as failed. Default 10 s. */
  requestTimeoutMs?: number;
}

export interface LoadReport {
  samples: readonly LoadSample[];
  total: number;
  ok: number;
  /** Every request answered with anything but 200, or not answered at all. */
  failures: LoadSample[];
  /** 200s that a fallback gave (cache, another variant, a default) rather than the model. */
  fallbacks: LoadSample[];
  statuses: Record<string, number>;
  variants: Record<string, number>;
  durationMs: number;
  rps: number;
}

export interface LoadRun {
  /** Samples so far, in the order answers came. */
  readonly samples: readonly LoadSample[];
  /** Stops starting requests and resolves once every worker has its last answer. */
  stop(): Promise<LoadReport>;
  /** Resolves when the run ends, by count, by time or by stop(). */
  readonly finished: Promise<LoadReport>;
}

/** What one request came back with; `send` never throws for a failed request. */
export type SendOutcome = Omit<LoadSample, 'worker' | 'sentAt' | 'doneAt'>;

/**
 * A closed-loop load: `workers` loops over one keep-alive undici Agent of their own, bounded by
 * `maxRequests` and `maxMs` together, optionally paced to `ratePerSecond`, recording status,
 * variant and times of every request.
 * Never throws for a failed request; failures are samples.
 */
export function startLoad(options: LoadOptions): LoadRun {
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const agent = new Agent({ connections: options.workers, pipelining: 1, keepAliveTimeout: 10_000 });
  return startLoop(
    options,
    async (index) => {
      const { body, headers } = options.request(index);
      try {
        const response = await request(options.url, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        const text = await response.body.text();
        const variant = response.headers['x-switchyard-variant'];
        const fallback = response.headers['x-switchyard-fallback'];
        return {
          status: response.statusCode,
          variant: typeof variant === 'string' ? variant : undefined,
          fallback: typeof fallback === 'string' ? fallback : undefined,
          ...(response.statusCode === 200 ? {} : { error: text.slice(0, 300) }),
        };
      } catch (error) {
        return {
          status: 0,
          variant: undefined,
          fallback: undefined,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        };
      }
    },
    () => agent.close(),
  );
}

/**
 * The closed loop itself, over any client: `send(index)` makes request `index` and says how it
 * went (a gRPC load: test/harness/grpc.ts); `close` runs once every worker has its last answer.
 */
export function startLoop(
  options: LoopOptions,
  send: (index: number) => Promise<SendOutcome>,
  close: () => Promise<void> = async () => {},
): LoadRun {
  const { workers, maxRequests, maxMs } = options;
  const samples: LoadSample[] = [];
  const startedAt = performance.now();
  const deadline = startedAt + maxMs;
  let next = 0;
  let stopped = false;

  const worker = async (id: number): Promise<void> => {
    while (!stopped && next < maxRequests && performance.now() < deadline) {
      const index = next++;
      if (options.ratePerSecond !== undefined) {
        const due = startedAt + (index * 1000) / options.ratePerSecond;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        if (stopped || performance.now() >= deadline) break;
      }
      const sentAt = performance.now();
      const outcome = await send(index);
      samples.push({ worker: id, sentAt, doneAt: performance.now(), ...outcome });
    }
  };

  const finished = Promise.all(Array.from({ length: workers }, (_, id) => worker(id)))
    .then(close)
    .then(() => summarize(samples, performance.now() - startedAt));

  return {
    samples,
    stop() {
      stopped = true;
      return finished;
    },
    finished,
  };
}

/** Counts of `samples`; `durationMs` gives the rate. */
export function summarize(samples: readonly LoadSample[], durationMs: number): LoadReport {
  const statuses: Record<string, number> = {};
  const variants: Record<string, number> = {};
  const failures: LoadSample[] = [];
  const fallbacks: LoadSample[] = [];
  for (const sample of samples) {
    if (sample.status === 200 && sample.fallback !== undefined) fallbacks.push(sample);
    statuses[sample.status] = (statuses[sample.status] ?? 0) + 1;
    if (sample.status === 200) {
      const variant = sample.variant ?? '(none)';
      variants[variant] = (variants[variant] ?? 0) + 1;
    } else {
      failures.push(sample);
    }
  }
  return {
    samples,
    total: samples.length,
    ok: samples.length - failures.length,
    failures,
    fallbacks,
    statuses,
    variants,
    durationMs,
    rps: durationMs > 0 ? (samples.length * 1000) / durationMs : 0,
  };
}

/** Samples of requests sent within [from, to). */
export function sentBetween(samples: readonly LoadSample[], from: number, to = Infinity): LoadSample[] {
  return samples.filter((s) => s.sentAt >= from && s.sentAt < to);
}

/** A short text for assertion messages: totals, statuses, variants and the first few failures. */
export function describeLoad(report: LoadReport): string {
  const first = report.failures
    .slice(0, 5)
    .map((f) => `${f.status} ${f.error ?? ''}`)
    .join('; ');
  return (
    `${report.total} requests in ${Math.round(report.durationMs)} ms (${report.rps.toFixed(0)} rps), ` +
    `statuses ${JSON.stringify(report.statuses)}, variants ${JSON.stringify(report.variants)}, ` +
    `fallbacks ${report.fallbacks.length}` +
    (first ? `, first failures: ${first}` : '')
  );
}
