import type { CommandSpec, FlagSpec } from './command-spec.js';

/**
 * A command line the switchyard command refuses: printed with the usage of `command` (when
 * known; else of the command run), exit status 2.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: CommandSpec,
  ) {
    super(message);
  }
}

export function integer(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new UsageError(`${flag} takes a whole number, not "${value}"`);
  return parsed;
}

/** A whole number above 0: a timeout of 0 would turn Node's timeout off rather than make it short. */
export function positive(flag: string, value: string | undefined, fallback: number): number {
  const parsed = integer(flag, value, fallback);
  if (parsed === 0) throw new UsageError(`${flag} takes a whole number above 0, not "${value}"`);
  return parsed;
}

/** `--log-level`, the same for every command that runs a server. */
export const LOG_LEVEL_FLAG = {
  name: 'log-level',
  value: 'LEVEL',
  default: 'the LOG_LEVEL variable, else info',
  description: 'pino log level: fatal, error, warn, info, debug, trace or silent',
} as const satisfies FlagSpec;
