import { parseArgs } from 'node:util';
import type { RuntimeHandle } from '../../runtimes/onnx/main.js';
import { RUNTIME_DEFAULTS, type RuntimeOptions } from '../../runtimes/onnx/options.js';
import { integer, positive, UsageError } from './args.js';
import { exitOnSignals } from './signals.js';

export const RUNTIME_USAGE = `switchyard runtime --repository DIR [--port N] [--host H] [--grpc-port N] [--grace-ms N]
                   [--drain-delay-ms N] [--max-body-bytes N] [--max-json-depth N] [--header-timeout-ms N]
                   [--body-timeout-ms N] [--request-timeout-ms N] [--max-connections N]
                   [--added-latency-ms N] [--log-level LEVEL]`;

export function parseRuntimeArgs(argv: string[]): RuntimeOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      repository: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'grpc-port': { type: 'string' },
      'grace-ms': { type: 'string' },
      'drain-delay-ms': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'max-json-depth': { type: 'string' },
      'header-timeout-ms': { type: 'string' },
      'body-timeout-ms': { type: 'string' },
      'request-timeout-ms': { type: 'string' },
      'max-connections': { type: 'string' },
      'log-level': { type: 'string' },
      'added-latency-ms': { type: 'string' },
    },
    strict: true,
  });
  if (!values.repository) throw new UsageError('--repository is required');
  const limits = RUNTIME_DEFAULTS.clientLimits;
  return {
    repository: values.repository,
    host: values.host ?? RUNTIME_DEFAULTS.host,
    port: integer('--port', values.port, RUNTIME_DEFAULTS.port),
    ...(values['grpc-port'] === undefined
      ? {}
      : { grpcPort: integer('--grpc-port', values['grpc-port'], 0) }),
    graceMs: integer('--grace-ms', values['grace-ms'], RUNTIME_DEFAULTS.graceMs),
    drainDelayMs: integer('--drain-delay-ms', values['drain-delay-ms'], RUNTIME_DEFAULTS.drainDelayMs),
    bodyLimit: integer('--max-body-bytes', values['max-body-bytes'], RUNTIME_DEFAULTS.bodyLimit),
    jsonDepth: jsonDepth(values['max-json-depth']),
    logLevel: values['log-level'] ?? process.env.LOG_LEVEL ?? RUNTIME_DEFAULTS.logLevel,
    addedLatencyMs: integer(
      '--added-latency-ms',
      values['added-latency-ms'],
      RUNTIME_DEFAULTS.addedLatencyMs,
    ),
    clientLimits: {
      headerTimeoutMs: positive('--header-timeout-ms', values['header-timeout-ms'], limits.headerTimeoutMs),
      bodyTimeoutMs: positive('--body-timeout-ms', values['body-timeout-ms'], limits.bodyTimeoutMs),
      requestTimeoutMs: positive(
        '--request-timeout-ms',
        values['request-timeout-ms'],
        limits.requestTimeoutMs,
      ),
      maxConnections: integer('--max-connections', values['max-connections'], limits.maxConnections),
    },
  };
}

/** 1 to 1000, as the gateway's limits.json_depth: deeper values overflow the stack when walked. */
function jsonDepth(value: string | undefined): number {
  const depth = integer('--max-json-depth', value, RUNTIME_DEFAULTS.jsonDepth);
  if (depth < 1 || depth > 1000) throw new UsageError(`--max-json-depth takes 1 to 1000, not ${depth}`);
  return depth;
}

export async function runRuntime(argv: string[]): Promise<RuntimeHandle> {
  const options = parseRuntimeArgs(argv);
  const { startRuntime } = await loadRuntime();
  const runtime = await startRuntime(options);
  exitOnSignals([() => runtime.shutdown()]);
  return runtime;
}

/**
 * The runtime's server and ONNX Runtime's native binding (~288 MB, and absent from the gateway's
 * image), loaded only by the commands that run a runtime: `help`, `gateway`, `validate` and the
 * rest never load it. A test (src/cli/lazy-runtime.test.ts) fails if one of them does.
 */
export const loadRuntime = () => import('../../runtimes/onnx/main.js');
