import { CLIENT_LIMITS_DEFAULTS, type ClientLimits } from '../../src/shared/http/client-limits.js';

/**
 * How a runtime is started. Apart from main.ts so the command line can parse and check its
 * options without loading ONNX Runtime's native binding (src/cli/runtime.ts).
 */
export interface RuntimeOptions {
  repository: string;
  host: string;
  port: number;
  /** The gRPC listener's port (inference.GRPCInferenceService), on `host`; undefined: no gRPC, 0: any free port. */
  grpcPort?: number;
  /** Longest a shutdown may take before the process gives up on what it holds. */
  graceMs: number;
  /** How long to keep serving after SIGTERM, not ready, before closing the listener. */
  drainDelayMs: number;
  bodyLimit: number;
  /** Bodies nesting arrays and objects deeper get 400 before they are parsed (1..1000, as the gateway's limits.json_depth). */
  jsonDepth: number;
  logLevel: string;
  /** Added to every inference answer: stands in for a slow model in tests and benchmarks. */
  addedLatencyMs: number;
  /** Slow clients and the connection cap; the gateway's defaults (src/shared/http/client-limits.ts). */
  clientLimits: ClientLimits;
}

export const RUNTIME_DEFAULTS: Omit<RuntimeOptions, 'repository'> = {
  host: '127.0.0.1',
  port: 8001,
  graceMs: 30_000,
  drainDelayMs: 0,
  bodyLimit: 32 * 1024 * 1024,
  jsonDepth: 64,
  logLevel: 'info',
  addedLatencyMs: 0,
  // Its bodies may be 32 times the gateway's: a whole request gets twice the gateway's time.
  clientLimits: { ...CLIENT_LIMITS_DEFAULTS, requestTimeoutMs: 60_000 },
};
