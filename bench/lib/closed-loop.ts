import { performance } from 'node:perf_hooks';
import { cpuMeter } from './cpu.js';

/**
 * One connection's sender: resolves `ok: true` for an answer that succeeded (HTTP 200, gRPC OK),
 * `ok: false` for any other answer; throws for a failure with no answer (socket, deadline).
 */
export type Send = (user: string) => Promise<{ ok: boolean; status: number; detail?: string }>;

export interface ClosedLoopOptions {
  /** One sender per connection: each keeps exactly one request in flight. */
  senders: readonly Send[];
  seconds: number;
  /** A bound on the run besides its length: no connection starts a request past it. */
  maxRequests: number;
  /** Processes whose CPU time is read before and after the run, as in measure.ts. */
  pids: readonly number[];
  /** Different user ids (`u-0` … ), one a request, cycling: the gateway routes on them. */
  users?: number;
}

/**
 * Successful answers are what the rate, the latencies and the CPU per request are of: a failed
 * answer (a breaker's or a shed request's fast refusal) would flatter all three. Failed answers
 * and errors are counted apart, and a row with any is suspect.
 */
export interface ClosedLoopResult {
  connections: number;
  /** Successful answers per second of the run. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
  /** Successful answers. */
  requests: number;
  /** Answers that were not a success (HTTP status other than 200, gRPC status other than OK). */
  failedAnswers: number;
  /** The failed answers by status (HTTP status, or gRPC status code), and the first one's text. */
  failedStatuses: Record<string, number>;
  firstFailure?: string;
  /** Requests with no answer: socket errors, deadlines. */
  errors: number;
  firstError?: string;
  durationS: number;
  /** CPU µs per successful answer, one per entry of `pids`. */
  cpuUsPerRequest: number[];
  /** The benchmark process's own CPU µs per successful answer (the load generator shares the machine). */
  clientCpuUsPerRequest: number;
}

/** Exact percentile of a sorted array (nearest rank). */
function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * A closed loop in this process: every sender keeps one request in flight and sends the next when
 * the answer arrived, until `seconds` passed or `maxRequests` were started. Every answer's latency
 * is kept, so the percentiles are exact. As with wrk (load.ts), a stall delays the requests after
 * it instead of being counted for each (coordinated omission), alike for every protocol.
 */
export async function closedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const { senders, maxRequests } = options;
  const users = options.users ?? 1000;
  const latencies = new Float64Array(maxRequests);
  let started = 0;
  let answered = 0;
  let failedAnswers = 0;
  let errors = 0;
  let firstError: string | undefined;
  const failedStatuses: Record<string, number> = {};
  let firstFailure: string | undefined;

  const cpu = cpuMeter(options.pids);
  const clientBefore = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + options.seconds * 1000;

  const worker = async (send: Send): Promise<void> => {
    while (started < maxRequests && performance.now() < end) {
      const user = `u-${started % users}`;
      started++;
      const sent = performance.now();
      try {
        const answer = await send(user);
        if (answer.ok) latencies[answered++] = performance.now() - sent;
        else {
          failedAnswers++;
          failedStatuses[answer.status] = (failedStatuses[answer.status] ?? 0) + 1;
          firstFailure ??= `${answer.status}: ${answer.detail ?? ''}`;
        }
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(senders.map(worker));

  const durationS = (performance.now() - t0) / 1000;
  const used = cpu();
  const client = process.cpuUsage(clientBefore);
  const sorted = latencies.subarray(0, answered).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const perAnswer = (us: number) => (answered > 0 ? us / answered : NaN);
  return {
    connections: senders.length,
    rps: answered / durationS,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    maxMs: answered > 0 ? sorted[answered - 1]! : NaN,
    meanMs: answered > 0 ? sum / answered : NaN,
    requests: answered,
    failedAnswers,
    failedStatuses,
    ...(firstFailure === undefined ? {} : { firstFailure }),
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    durationS,
    cpuUsPerRequest: used.map(perAnswer),
    clientCpuUsPerRequest: perAnswer(client.user + client.system),
  };
}
