import { RUNTIME_DEFAULTS } from '../../runtimes/onnx/options.js';
import { integer, LOG_LEVEL_FLAG } from './args.js';
import { parseCommandLine, type CommandSpec } from './command-spec.js';
import { loadGateway } from './gateway.js';
import { loadRuntime } from './runtime.js';
import { exitOnSignals } from './signals.js';

/** The dev runtime's gRPC port: its HTTP default, 8001, is the port Triton gives gRPC. */
const DEV_RUNTIME_GRPC_PORT = 9001;
const DEV_REPOSITORY = 'config/models';
const DEV_CONFIG = 'config/gateway.dev.yaml';

export const DEV_SPEC = {
  name: 'dev',
  summary:
    'a runtime on the models of --repository and a gateway on --config in front of it, in one process (npm start)',
  flags: [
    { name: 'port', value: 'N', default: "the config's listen.port", description: "the gateway's port" },
    {
      name: 'runtime-port',
      value: 'N',
      default: RUNTIME_DEFAULTS.port,
      description: "the runtime's HTTP port",
    },
    {
      name: 'runtime-grpc-port',
      value: 'N',
      default: DEV_RUNTIME_GRPC_PORT,
      description: "the runtime's gRPC port",
    },
    {
      name: 'repository',
      value: 'DIR',
      default: DEV_REPOSITORY,
      description: 'the model repository the runtime serves',
    },
    {
      name: 'config',
      value: 'FILE',
      default: DEV_CONFIG,
      description: "the gateway's config; it reaches the runtime as ${SWITCHYARD_RUNTIME_URL}",
    },
    LOG_LEVEL_FLAG,
  ],
} as const satisfies CommandSpec;

/**
 * What `npm start` runs: a runtime on the demo models and a gateway on config/gateway.dev.yaml in
 * front of it, in one process, state in memory. `--repository` and `--config` put your own models
 * and config there instead (docs/own-model.md); the config reaches the runtime as
 * `${SWITCHYARD_RUNTIME_URL}`, which the process sets to the runtime's address.
 */
export async function runDev(argv: string[]): Promise<void> {
  const { values } = parseCommandLine(DEV_SPEC, argv);
  const repository = values.repository ?? DEV_REPOSITORY;
  const config = values.config ?? DEV_CONFIG;
  const logLevel = values['log-level'] ?? process.env.LOG_LEVEL ?? 'info';
  const { startRuntime } = await loadRuntime();
  const runtime = await startRuntime({
    ...RUNTIME_DEFAULTS,
    repository,
    port: integer('--runtime-port', values['runtime-port'], RUNTIME_DEFAULTS.port),
    grpcPort: integer('--runtime-grpc-port', values['runtime-grpc-port'], DEV_RUNTIME_GRPC_PORT),
    logLevel,
  });
  await runtime.state.repository.loaded;
  process.env.SWITCHYARD_RUNTIME_URL = runtime.url;
  const { startGateway } = await loadGateway();
  const gateway = await startGateway({
    config,
    ...(values.port === undefined ? {} : { port: integer('--port', values.port, 8080) }),
    logLevel,
    drainDelayMs: 0,
    graceMs: 30_000,
  });
  // The gateway drains first so nothing it still sends finds the runtime gone.
  exitOnSignals([async () => (await gateway.shutdown()) && (await runtime.shutdown())]);
}
