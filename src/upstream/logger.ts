/**
 * The slice of a structured logger the upstream pool needs. pino's `Logger` (Fastify's `log`)
 * satisfies it, so the gateway passes its own; tests and tools may leave it out.
 */
export interface UpstreamLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const ignore = (): void => {};

export const silentLogger: UpstreamLogger = { info: ignore, warn: ignore, error: ignore };
