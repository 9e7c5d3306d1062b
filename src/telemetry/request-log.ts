import { pino } from 'pino';
import type { Logger } from '../shared/logger.js';

/** The fields of the one info line logged per model request; never the key or the raw features. */
export interface RequestLogFields {
  request_id: string;
  model: string;
  endpoint: string;
  /** Absent on requests refused before routing (unknown model, draining). */
  variant?: string;
  version?: string | undefined;
  status: number;
  duration_ms: number;
  fallback: string | null;
  code?: string;
}

export type RequestLog = (fields: RequestLogFields) => void;

const INFO = pino.levels.values.info!;

interface PinoInternals {
  level?: string;
  [pino.symbols.chindingsSym]?: string;
  [pino.symbols.streamSym]?: { write(line: string): unknown };
}

/**
 * Writes the request line as pino would (`level`, `time`, the logger's bindings, the fields,
 * `msg`), built by hand: pino's generic path (hooks, serializers, a property walk with a
 * stringify per value) cost ~6% of the gateway's CPU under load for this one line, the only log
 * line a healthy request makes. Every other line goes through pino itself. A logger that is not
 * pino (or hides its stream) gets `logger.info`.
 */
export function createRequestLog(logger: Logger): RequestLog {
  const internals = logger as unknown as PinoInternals;
  const bindings = internals[pino.symbols.chindingsSym];
  const stream = internals[pino.symbols.streamSym];
  if (typeof bindings !== 'string' || typeof stream?.write !== 'function') {
    return (fields) => logger.info(fields, 'request');
  }
  const prefix = `{"level":${INFO},"time":`;
  return (fields) => {
    if ((pino.levels.values[internals.level ?? 'silent'] ?? Infinity) > INFO) return; // 'silent', 'warn', …
    let line = `${prefix}${Date.now()}${bindings},"request_id":${JSON.stringify(fields.request_id)},"model":${JSON.stringify(fields.model)},"endpoint":${JSON.stringify(fields.endpoint)}`;
    if (fields.variant !== undefined) line += `,"variant":${JSON.stringify(fields.variant)}`;
    if (fields.version !== undefined) line += `,"version":${JSON.stringify(fields.version)}`;
    line += `,"status":${fields.status},"duration_ms":${fields.duration_ms},"fallback":${fields.fallback === null ? 'null' : JSON.stringify(fields.fallback)}`;
    if (fields.code !== undefined) line += `,"code":${JSON.stringify(fields.code)}`;
    stream.write(`${line},"msg":"request"}\n`);
  };
}
