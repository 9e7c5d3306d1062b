import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT, startSwitchyard, waitFor, type StartedProcess } from './process.js';

export const DEMO_REPOSITORY = join(PROJECT_ROOT, 'config', 'models');

/**
 * Starts a runtime on a free loopback port and waits until it is ready (models loaded). `grpc`:
 * its gRPC listener too, on a free port that grpcPortOf reads from its log.
 */
export async function startRuntime(
  options: { repository?: string; args?: string[]; env?: NodeJS.ProcessEnv; grpc?: boolean } = {},
): Promise<StartedProcess> {
  const runtime = await startSwitchyard(
    [
      'runtime',
      '--repository',
      options.repository ?? DEMO_REPOSITORY,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      ...(options.grpc ? ['--grpc-port', '0'] : []),
      ...(options.args ?? []),
    ],
    { env: { LOG_LEVEL: 'info', ...options.env } },
  );
  try {
    await waitFor(
      'runtime ready',
      async () => (await fetch(`${runtime.url}/v2/health/ready`)).status === 200,
      20_000,
    );
  } catch (error) {
    await runtime.stop('SIGKILL');
    throw error;
  }
  return runtime;
}

/** A copy of (part of) the demo repository in a temp dir that the test may edit; removed by `remove`. */
export async function copyRepository(models: string[]): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-repo-'));
  for (const model of models) await cp(join(DEMO_REPOSITORY, model), join(dir, model), { recursive: true });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The gRPC port a runtime started with `grpc: true` logged in its `switchyard listening` line. */
export function grpcPortOf(runtime: StartedProcess): number {
  const line = runtime.logs.find((l) => l.msg === 'switchyard listening' && typeof l.grpc_port === 'number');
  if (!line) throw new Error('the runtime logged no gRPC port: was it started with grpc: true?');
  return line.grpc_port as number;
}
