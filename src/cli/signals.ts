/**
 * SIGTERM and SIGINT start a graceful shutdown of everything the command runs; the process
 * exits 0 when each part finished what it held, 1 when a grace period ran out first.
 */
export function exitOnSignals(shutdowns: (() => Promise<boolean>)[]): void {
  let started = false;
  const stop = (): void => {
    if (started) return;
    started = true;
    void Promise.all(shutdowns.map((shutdown) => shutdown())).then(
      (finished) => process.exit(finished.every(Boolean) ? 0 : 1),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
