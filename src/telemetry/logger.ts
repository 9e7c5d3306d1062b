import { pino, type Logger } from 'pino';

/**
 * The process's JSON logger on stdout, written asynchronously: a line costs the event loop a
 * string append, and lines logged while a write is in flight go out together in the next one.
 * pino's default, a synchronous write per line, put a syscall on every request's path (the
 * request log line): ~7% of the gateway's CPU under load. Call `flushLogger` before exiting.
 */
export function createLogger(level: string): Logger {
  return pino({ level }, pino.destination({ dest: 1, sync: false }));
}

/** Resolves once every line logged so far is written (or after `timeoutMs`, if stdout is stuck). */
export function flushLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs).unref();
    logger.flush(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
