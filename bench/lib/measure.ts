import { cpuMeter } from './cpu.js';
import { runLoad, type LoadOptions, type LoadResult } from './load.js';
import { postJson } from './net.js';
import { readFileSync } from 'node:fs';

/** Something to put load on: where, with what, and whose CPU time to count. */
export interface Target {
  name: string;
  url: string;
  bodyFile: string;
  headers?: Record<string, string>;
  userHeader?: string;
  /** Processes whose CPU time is read before and after each run (the first is the one reported). */
  pids: number[];
  timeoutSeconds?: number;
}

export interface Measurement extends LoadResult {
  target: string;
  /** CPU µs per completed request, one per entry of the target's `pids`. */
  cpuUsPerRequest: number[];
}

/** One load run on `target` at `connections`, with the CPU time of its processes over the run. */
export async function measure(target: Target, connections: number, seconds: number): Promise<Measurement> {
  const options: LoadOptions = {
    url: target.url,
    connections,
    seconds,
    bodyFile: target.bodyFile,
    headers: target.headers ?? {},
    ...(target.userHeader ? { userHeader: target.userHeader } : {}),
    ...(target.timeoutSeconds ? { timeoutSeconds: target.timeoutSeconds } : {}),
  };
  const cpu = cpuMeter(target.pids);
  const load = await runLoad(options);
  const used = cpu();
  return {
    target: target.name,
    ...load,
    cpuUsPerRequest: used.map((us) => (load.requests > 0 ? us / load.requests : NaN)),
  };
}

/**
 * Runs every step once per repeat, in the same order each time (A B C A B C ...), so slow drifts
 * of a shared machine hit every configuration alike. Returns each step's measurements by key.
 */
export async function interleaved<M>(
  repeats: number,
  steps: { key: string; run: () => Promise<M> }[],
  onResult?: (key: string, repeat: number, result: M) => void,
): Promise<Map<string, M[]>> {
  const results = new Map<string, M[]>(steps.map((step) => [step.key, []]));
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const step of steps) {
      const result = await step.run();
      results.get(step.key)!.push(result);
      onResult?.(step.key, repeat, result);
    }
  }
  return results;
}

/** Sends the target's request once and fails loudly unless it is answered `expected` (200). */
export async function checkTarget(target: Target, expected = 200): Promise<Headers> {
  const headers: Record<string, string> = { ...target.headers };
  if (target.userHeader) headers[target.userHeader] = 'u-check';
  const answer = await postJson(target.url, readFileSync(target.bodyFile, 'utf8'), headers, 15_000);
  if (answer.status !== expected)
    throw new Error(`${target.name}: ${target.url} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  return answer.headers;
}

/** A progress line per run, so a long suite shows it is alive. */
export function progress(key: string, repeat: number, m: Measurement): void {
  const errors = m.errors + m.non2xx > 0 ? `, ${m.non2xx} non-2xx, ${m.errors} errors` : '';
  process.stdout.write(
    `  [${repeat + 1}] ${key.padEnd(28)} ${m.rps.toFixed(0).padStart(7)} rps  p50 ${m.p50Ms.toFixed(3)} ms  p99 ${m.p99Ms.toFixed(3)} ms${errors}\n`,
  );
}
