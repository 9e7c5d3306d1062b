import { pino, type Logger } from 'pino';

/** How long a logged line may wait in the buffer when fewer than LOG_BUFFER_BYTES are waiting. */
const LOG_FLUSH_MS = 100;
const LOG_BUFFER_BYTES = 8192; // below sonic-boom's maxWrite (16 KiB)

/**
 * The process's JSON logger on stdout, buffered: lines are written together once 8 KiB are
 * waiting, or 100 ms after they were logged. pino's default, one synchronous write(2) per line,
 * put a syscall on every request's path (the request log line): ~9% of the gateway's CPU under
 * load; asynchronous writes cost about as much in thread-pool hand-offs. Call `flushLogger`
 * before exiting.
 */
export function createLogger(level: string): Logger {
  const destination = pino.destination({
    dest: 1,
    sync: true,
    minLength: LOG_BUFFER_BYTES,
    periodicFlush: LOG_FLUSH_MS,
  });
  return pino(
    {
      level,
      hooks: {
        // A warning or an error goes out at once, with the lines before it: nobody waits for
        // the next flush to learn that a model failed to load.
        logMethod(args, method, levelValue) {
          method.apply(this, args);
          if (levelValue >= WARN) destination.flushSync();
        },
      },
    },
    destination,
  );
}

const WARN = pino.levels.values.warn!;

/** Writes every line logged so far (or gives up after `timeoutMs`, if stdout is stuck). */
export function flushLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs).unref();
    logger.flush(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
