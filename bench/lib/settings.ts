/** Knobs every scenario reads from the environment, so a quick check and the full run are one script. */
export interface Settings {
  /** Length of one measured load run (BENCH_SECONDS, default 10). */
  seconds: number;
  /** Measured runs per configuration; tables show the median (BENCH_REPEATS, default 3). */
  repeats: number;
  /** Unrecorded load before the first repeat, for JIT, pools and caches (BENCH_WARMUP_SECONDS, default 3). */
  warmupSeconds: number;
  /** Log level of gateways (BENCH_GATEWAY_LOG_LEVEL, default info: the request log is on, as in production). */
  gatewayLogLevel: string;
  /**
   * Whether gateways write the prediction log (BENCH_PREDICTION_LOG=on|off, default on, as in
   * production); it always goes into the benchmark's temp dir (or Redis with Redis state).
   */
  predictionLog: boolean;
  /** Added to the results file name, e.g. "smoke" (BENCH_LABEL). */
  label: string;
}

function positive(name: string, fallback: number, min = 1): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min)
    throw new Error(`${name} must be a number >= ${min}, not "${text}"`);
  return value;
}

function onOff(name: string, fallback: boolean): boolean {
  const text = (process.env[name] ?? '').toLowerCase();
  if (text === '') return fallback;
  if (text === 'on' || text === '1' || text === 'true') return true;
  if (text === 'off' || text === '0' || text === 'false') return false;
  throw new Error(`${name} must be on or off, not "${process.env[name]}"`);
}

export function readSettings(): Settings {
  return {
    seconds: Math.round(positive('BENCH_SECONDS', 10)),
    repeats: Math.round(positive('BENCH_REPEATS', 3)),
    warmupSeconds: Math.round(positive('BENCH_WARMUP_SECONDS', 3, 0)),
    gatewayLogLevel: process.env.BENCH_GATEWAY_LOG_LEVEL || 'info',
    predictionLog: onOff('BENCH_PREDICTION_LOG', true),
    label: (process.env.BENCH_LABEL ?? '').replace(/[^\w.-]/g, ''),
  };
}

/** What every scenario's gateways take from the settings: the request log and the prediction log. */
export function gatewayOptions(settings: Settings): { logLevel: string; predictionLog: boolean } {
  return { logLevel: settings.gatewayLogLevel, predictionLog: settings.predictionLog };
}

/** A list of whole numbers from the environment, e.g. BENCH_BATCHING_CLIENTS=1,8,64. */
export function numberList(name: string, fallback: number[]): number[] {
  const text = process.env[name];
  if (!text) return fallback;
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1))
    throw new Error(`${name} must list whole numbers >= 1`);
  return values;
}

/** One number from the environment with a default. */
export function numberSetting(name: string, fallback: number, min = 0): number {
  return positive(name, fallback, min);
}
