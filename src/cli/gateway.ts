import { parseArgs } from 'node:util';
import { startGateway, type GatewayHandle, type GatewayOptions } from '../gateway/start.js';
import { integer, UsageError } from './args.js';
import { exitOnSignals } from './signals.js';

export const GATEWAY_USAGE = `switchyard gateway --config FILE [--port N] [--host H] [--grpc-port N] [--drain-delay-ms N] [--grace-ms N] [--log-level LEVEL]`;

export const GATEWAY_DEFAULTS = { drainDelayMs: 0, graceMs: 30_000 };

export function parseGatewayArgs(argv: string[]): GatewayOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'grpc-port': { type: 'string' },
      'drain-delay-ms': { type: 'string' },
      'grace-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
  });
  if (!values.config) throw new UsageError('--config is required');
  const options: GatewayOptions = {
    config: values.config,
    logLevel: values['log-level'] ?? process.env.LOG_LEVEL ?? 'info',
    drainDelayMs: integer('--drain-delay-ms', values['drain-delay-ms'], GATEWAY_DEFAULTS.drainDelayMs),
    graceMs: integer('--grace-ms', values['grace-ms'], GATEWAY_DEFAULTS.graceMs),
  };
  if (values.port !== undefined) options.port = integer('--port', values.port, 0);
  if (values.host !== undefined) options.host = values.host;
  if (values['grpc-port'] !== undefined) options.grpcPort = integer('--grpc-port', values['grpc-port'], 0);
  if (values['poll-ms'] !== undefined) options.pollMs = integer('--poll-ms', values['poll-ms'], 1000);
  return options;
}

export async function runGateway(argv: string[]): Promise<GatewayHandle> {
  const gateway = await startGateway(parseGatewayArgs(argv));
  exitOnSignals([() => gateway.shutdown()]);
  return gateway;
}
