import { parseArgs } from 'node:util';
import { RUNTIME_DEFAULTS } from '../../runtimes/onnx/options.js';
import { startGateway } from '../gateway/start.js';
import { integer } from './args.js';
import { loadRuntime } from './runtime.js';
import { exitOnSignals } from './signals.js';

export const DEV_USAGE = `switchyard dev [--port N] [--runtime-port N] [--runtime-grpc-port N] [--repository DIR] [--config FILE]
                    a runtime on DIR (config/models) and a gateway on FILE (config/gateway.dev.yaml) in front of it`;

/** The dev runtime's gRPC port: its HTTP default, 8001, is the port Triton gives gRPC. */
const DEV_RUNTIME_GRPC_PORT = 9001;

/**
 * What `npm start` runs: a runtime on the demo models and a gateway on config/gateway.dev.yaml in
 * front of it, in one process, state in memory. `--repository` and `--config` put your own models
 * and config there instead (docs/own-model.md); the config reaches the runtime as
 * `${SWITCHYARD_RUNTIME_URL}`, which the process sets to the runtime's address.
 */
export async function runDev(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'runtime-port': { type: 'string' },
      'runtime-grpc-port': { type: 'string' },
      'log-level': { type: 'string' },
      repository: { type: 'string', default: 'config/models' },
      config: { type: 'string', default: 'config/gateway.dev.yaml' },
    },
    strict: true,
  });
  const logLevel = values['log-level'] ?? process.env.LOG_LEVEL ?? 'info';
  const { startRuntime } = await loadRuntime();
  const runtime = await startRuntime({
    ...RUNTIME_DEFAULTS,
    repository: values.repository,
    port: integer('--runtime-port', values['runtime-port'], RUNTIME_DEFAULTS.port),
    grpcPort: integer('--runtime-grpc-port', values['runtime-grpc-port'], DEV_RUNTIME_GRPC_PORT),
    logLevel,
  });
  await runtime.state.repository.loaded;
  process.env.SWITCHYARD_RUNTIME_URL = runtime.url;
  const gateway = await startGateway({
    config: values.config,
    ...(values.port === undefined ? {} : { port: integer('--port', values.port, 8080) }),
    logLevel,
    drainDelayMs: 0,
    graceMs: 30_000,
  });
  // The gateway drains first so nothing it still sends finds the runtime gone.
  exitOnSignals([async () => (await gateway.shutdown()) && (await runtime.shutdown())]);
}
