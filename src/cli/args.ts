/** A command line the switchyard command refuses: printed with the usage, exit status 2. */
export class UsageError extends Error {}

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
