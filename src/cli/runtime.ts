import type { RuntimeHandle } from '../../runtimes/onnx/main.js';
import { RUNTIME_DEFAULTS, type RuntimeOptions } from '../../runtimes/onnx/options.js';
import { integer, LOG_LEVEL_FLAG, positive, UsageError } from './args.js';
import { parseCommandLine, type CommandSpec } from './command-spec.js';
import { exitOnSignals } from './signals.js';

const limits = RUNTIME_DEFAULTS.clientLimits;

export const RUNTIME_SPEC = {
  name: 'runtime',
  summary: 'the ONNX runtime: serves a model repository over the Open Inference Protocol',
  flags: [
    {
      name: 'repository',
      value: 'DIR',
      required: true,
      description: 'the model repository (docs/own-model.md)',
    },
    {
      name: 'port',
      value: 'N',
      default: RUNTIME_DEFAULTS.port,
      description: 'the HTTP port; 0: any free port',
    },
    { name: 'host', value: 'H', default: RUNTIME_DEFAULTS.host, description: 'the address to listen on' },
    {
      name: 'grpc-port',
      value: 'N',
      description:
        'also serve gRPC (inference.GRPCInferenceService) on this port of --host (0: any free port)',
    },
    {
      name: 'grace-ms',
      value: 'N',
      default: RUNTIME_DEFAULTS.graceMs,
      description: 'longest a shutdown waits for requests in flight; exit 1 when it runs out',
    },
    {
      name: 'drain-delay-ms',
      value: 'N',
      default: RUNTIME_DEFAULTS.drainDelayMs,
      description: 'after SIGTERM or SIGINT, keep serving (not ready) this long before closing the listener',
    },
    {
      name: 'max-body-bytes',
      value: 'N',
      default: RUNTIME_DEFAULTS.bodyLimit,
      description: 'larger request bodies (decompressed) get 413',
    },
    {
      name: 'max-json-depth',
      value: 'N',
      default: RUNTIME_DEFAULTS.jsonDepth,
      description: 'bodies nesting arrays and objects deeper get 400 before they are parsed; 1 to 1000',
    },
    {
      name: 'header-timeout-ms',
      value: 'N',
      default: limits.headerTimeoutMs,
      description:
        "the request line and headers must arrive within this, as the gateway's limits.header_timeout_ms",
    },
    {
      name: 'body-timeout-ms',
      value: 'N',
      default: limits.bodyTimeoutMs,
      description: "the longest pause between two reads of a body, as the gateway's limits.body_timeout_ms",
    },
    {
      name: 'request-timeout-ms',
      value: 'N',
      default: limits.requestTimeoutMs,
      description: "the whole request must arrive within this, as the gateway's limits.request_timeout_ms",
    },
    {
      name: 'max-connections',
      value: 'N',
      default: limits.maxConnections,
      description: 'connections open at once beyond which new ones are closed; 0: no cap',
    },
    {
      name: 'added-latency-ms',
      value: 'N',
      default: RUNTIME_DEFAULTS.addedLatencyMs,
      description: 'added to every inference answer: a slow model for tests and benchmarks',
    },
    LOG_LEVEL_FLAG,
  ],
} as const satisfies CommandSpec;

export function parseRuntimeArgs(argv: string[]): RuntimeOptions {
  const { values } = parseCommandLine(RUNTIME_SPEC, argv);
  if (!values.repository) throw new UsageError('--repository is required', RUNTIME_SPEC);
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
 * rest never load it. test/gateway/no-onnxruntime.test.ts fails if one of them does.
 */
export const loadRuntime = () => import('../../runtimes/onnx/main.js');
