import { randomBytes } from 'node:crypto';
import type { Agent } from 'undici';
import { sha256Hex } from '../../src/stages/auth/authenticate.js';
import { getJson, metricValue } from './http.js';

/**
 * Runs `task(0) … task(count - 1)` with at most `concurrency` in flight, and fails once
 * `timeoutMs` has passed (no new task starts after that). Results keep the tasks' order.
 */
export async function runBounded<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
  timeoutMs = 15_000,
): Promise<T[]> {
  const results = new Array<T>(count);
  const deadline = Date.now() + timeoutMs;
  let next = 0;
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (next < count && !stopped) {
      if (Date.now() > deadline) {
        stopped = true;
        throw new Error(`runBounded: ${count} tasks did not finish in ${timeoutMs} ms`);
      }
      const index = next++;
      try {
        results[index] = await task(index);
      } catch (error) {
        stopped = true; // the other workers stop too, so nothing outlives the caller's cleanup
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(concurrency, count) }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  return results;
}

/** A tenant with a fresh random API key, for configs that need callers with other scopes. */
export function tenantWithKey(
  name: string,
  scopes: ('infer' | 'admin' | 'debug' | 'pin')[],
): { key: string; auth: Record<string, string>; tenant: object } {
  const key = `sk-test-${name}-${randomBytes(12).toString('hex')}`;
  return {
    key,
    auth: { authorization: `Bearer ${key}` },
    tenant: { name, keys: [{ sha256: sha256Hex(key) }], scopes },
  };
}

/** Inference requests a runtime has answered for `model` (every version and outcome), from its /metrics. */
export async function runtimeRequests(client: Agent, runtimeUrl: string, model = 'fraud'): Promise<number> {
  const response = await getJson(client, `${runtimeUrl}/metrics`);
  if (response.status !== 200) throw new Error(`${runtimeUrl}/metrics answered ${response.status}`);
  return metricValue(response.text, 'switchyard_runtime_requests_total', { model });
}
