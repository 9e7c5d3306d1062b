import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { metricValue } from '../../test/harness/http.js';

/** Sum of every sample of `name` on a Prometheus page whose labels include `labels` (the tests' own). */
export { metricValue };

/**
 * A loopback port that was free a moment ago, for servers that cannot listen on port 0 and say
 * which port they got (nginx, haproxy, redis-server). Callers retry once on a bind failure.
 */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  await once(probe, 'close');
  if (address === null || typeof address === 'string') throw new Error('could not read a free port');
  return address.port;
}

/** Status of a GET, or 0 when nothing answered (refused, reset, timed out). */
export async function httpStatus(url: string, timeoutMs = 1_000): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Polls `check` until it returns true; throws with `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

export interface PostAnswer {
  status: number;
  headers: Headers;
  text: string;
}

/** One POST with a JSON body (setup and checks only: the measured load comes from wrk). */
export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string> = {},
  timeoutMs = 5_000,
): Promise<PostAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** A server's /metrics page. */
export async function scrape(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (response.status !== 200) throw new Error(`${baseUrl}/metrics answered ${response.status}`);
  return response.text();
}

export interface PredictionLogTally {
  /** Records stored: in the file, or in Redis (plus those Redis refused that went to the file). */
  stored: number;
  /** Of those, the ones Redis refused that the file took. */
  spilled: number;
  /** Records lost: a write error, a full buffer, or after close. */
  lost: number;
}

/** The prediction log's counters on a gateway's /metrics page, to show it was really on. */
export async function predictionLogTally(baseUrl: string): Promise<PredictionLogTally> {
  const text = await scrape(baseUrl);
  const records = (outcome: string) =>
    metricValue(text, 'switchyard_prediction_log_records_total', { outcome });
  return {
    stored: records('ok'),
    spilled: records('spilled'),
    lost: records('error') + metricValue(text, 'switchyard_prediction_log_dropped_total'),
  };
}
