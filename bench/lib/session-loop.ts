import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readModelConfigs } from '../../runtimes/onnx/repository/load.js';
import { openSession, ort } from '../../runtimes/onnx/session.js';
import { DEMO_REPOSITORY, PROJECT_ROOT } from './switchyard.js';

export interface SessionLoopResult {
  model: string;
  batch: number;
  runsPerSecond: number;
  rowsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  runs: number;
}

/** The model file of version 1 as the runtime finds it (a folder file, or a file in an npm package). */
async function modelBytes(
  model: string,
): Promise<{ bytes: Uint8Array; dims: number[]; input: string; threads: number }> {
  const { configs } = await readModelConfigs(DEMO_REPOSITORY);
  const config = configs.find((c) => c.name === model);
  const version = config?.versions['1'];
  if (!config || !version) throw new Error(`model ${model} version 1 not in ${DEMO_REPOSITORY}`);
  const path = version.package_file
    ? join(PROJECT_ROOT, 'node_modules', version.package_file)
    : join(DEMO_REPOSITORY, model, version.path ?? join('1', 'model.onnx'));
  const input = config.inputs[0]!;
  if (input.datatype !== 'FP32') throw new Error(`${model}: the loop only feeds FP32 inputs`);
  return {
    bytes: await readFile(path),
    dims: input.dims,
    input: input.name,
    threads: config.intra_op_threads,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * The compute ceiling: `session.run` of version 1 in a loop in this process, one call at a time,
 * with `batch` rows of the same pseudo-random input, for `seconds` — no HTTP, no JSON, no batcher.
 * Opened on the CPU provider with the model's own intra_op_threads, as the runtime opens it here.
 * Latency percentiles are exact over every call.
 */
export async function sessionLoop(model: string, batch: number, seconds: number): Promise<SessionLoopResult> {
  const { bytes, dims, input, threads } = await modelBytes(model);
  const { session } = await openSession(bytes, ['cpu'], threads);
  try {
    const perRow = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(perRow * batch).map((_, i) => ((i * 7919) % 1000) / 1000);
    const feeds = { [input]: new ort.Tensor('float32', data, [batch, ...dims]) };
    await session.run(feeds); // warm-up, as the runtime does before it turns ready
    const times: number[] = [];
    const start = performance.now();
    const end = start + seconds * 1000;
    let now = start;
    while (now < end) {
      const t0 = now;
      await session.run(feeds);
      now = performance.now();
      times.push(now - t0);
    }
    const elapsedS = (now - start) / 1000;
    times.sort((a, b) => a - b);
    return {
      model,
      batch,
      runs: times.length,
      runsPerSecond: times.length / elapsedS,
      rowsPerSecond: (times.length * batch) / elapsedS,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
    };
  } finally {
    await session.release();
  }
}
