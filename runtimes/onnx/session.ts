import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

export type ExecutionProvider = 'cuda' | 'cpu';

export interface LoadedSession {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
}

/**
 * The CUDA provider is a separate shared library that `npm install` only fetches with
 * `--onnxruntime-node-install=cuda12`. Looking for it first avoids ONNX Runtime printing a
 * load failure on every start of a CPU-only machine.
 */
function cudaProviderInstalled(): boolean {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('onnxruntime-node/package.json'));
  const binDir = join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'));
}

/** Opens the model on the first provider in `preference` that works here, reporting which one it was. */
export async function openSession(
  model: Uint8Array,
  preference: readonly ExecutionProvider[],
  intraOpThreads: number,
): Promise<LoadedSession> {
  const failures: string[] = [];
  for (const provider of preference) {
    if (provider === 'cuda' && !cudaProviderInstalled()) {
      failures.push('cuda: provider library not installed');
      continue;
    }
    try {
      const options: ort.InferenceSession.SessionOptions = {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
      };
      const session = await ort.InferenceSession.create(model, options);
      return { session, provider };
    } catch (error) {
      failures.push(`${provider}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`no execution provider could open the model (${failures.join('; ')})`);
}

export { ort };
