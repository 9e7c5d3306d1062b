import type { GatewayHandle, GatewayOptions } from '../gateway/start.js';
import { integer, LOG_LEVEL_FLAG, positive, UsageError } from './args.js';
import { parseCommandLine, type CommandSpec } from './command-spec.js';
import { exitOnSignals } from './signals.js';

export const GATEWAY_DEFAULTS = { drainDelayMs: 0, graceMs: 30_000, pollMs: 1000 };

export const GATEWAY_SPEC = {
  name: 'gateway',
  summary: 'the gateway: serves the models of a config file, which it watches and reloads',
  flags: [
    { name: 'config', value: 'FILE', required: true, description: 'the gateway config file' },
    {
      name: 'port',
      value: 'N',
      description: "listen on this port instead of the config's listen.port (0: any free port)",
    },
    { name: 'host', value: 'H', description: "listen on this address instead of the config's listen.host" },
    {
      name: 'grpc-port',
      value: 'N',
      description:
        'also serve gRPC (inference.GRPCInferenceService) on this port of the listen host (0: any free port)',
    },
    {
      name: 'drain-delay-ms',
      value: 'N',
      default: GATEWAY_DEFAULTS.drainDelayMs,
      description: 'after SIGTERM or SIGINT, keep serving (not ready) this long before closing the listener',
    },
    {
      name: 'grace-ms',
      value: 'N',
      default: GATEWAY_DEFAULTS.graceMs,
      description: 'longest a shutdown waits for requests in flight; exit 1 when it runs out',
    },
    {
      name: 'poll-ms',
      value: 'N',
      default: GATEWAY_DEFAULTS.pollMs,
      description: 'how often the config file is polled, besides watching it',
    },
    LOG_LEVEL_FLAG,
  ],
} as const satisfies CommandSpec;

export function parseGatewayArgs(argv: string[]): GatewayOptions {
  const { values } = parseCommandLine(GATEWAY_SPEC, argv);
  if (!values.config) throw new UsageError('--config is required', GATEWAY_SPEC);
  const options: GatewayOptions = {
    config: values.config,
    logLevel: values['log-level'] ?? process.env.LOG_LEVEL ?? 'info',
    drainDelayMs: integer('--drain-delay-ms', values['drain-delay-ms'], GATEWAY_DEFAULTS.drainDelayMs),
    graceMs: integer('--grace-ms', values['grace-ms'], GATEWAY_DEFAULTS.graceMs),
  };
  if (values.port !== undefined) options.port = integer('--port', values.port, 0);
  if (values.host !== undefined) options.host = values.host;
  if (values['grpc-port'] !== undefined) options.grpcPort = integer('--grpc-port', values['grpc-port'], 0);
  if (values['poll-ms'] !== undefined)
    options.pollMs = positive('--poll-ms', values['poll-ms'], GATEWAY_DEFAULTS.pollMs);
  return options;
}

export async function runGateway(argv: string[]): Promise<GatewayHandle> {
  const options = parseGatewayArgs(argv);
  const { startGateway } = await loadGateway();
  const gateway = await startGateway(options);
  exitOnSignals([() => gateway.shutdown()]);
  return gateway;
}

/**
 * The gateway's server (Fastify, gRPC, Redis, OpenTelemetry), loaded only by the commands that run
 * one: `help` and the file-editing commands start in a fraction of the time without it.
 */
export const loadGateway = () => import('../gateway/start.js');
