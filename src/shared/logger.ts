import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

/**
 * The one logger type of the gateway and the runtime: the slice of a structured logger that
 * their parts call (the upstream pool, the state layer, the prediction log writer, the model
 * repository, the HTTP servers). The process logger from `createLogger` (pino, which Fastify also
 * takes) satisfies it; tests pass a recording one, tools `silentLogger`.
 */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The process's logger: pino, so Fastify can take it as its `loggerInstance`. */
export type ProcessLogger = PinoLogger;

const ignore = (): void => {};

export const silentLogger: Logger = { info: ignore, warn: ignore, error: ignore };

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
export function createLogger(level: string): ProcessLogger {
  const destination = pino.destination({
    dest: 1,
    sync: true,
    minLength: LOG_BUFFER_BYTES,
    periodicFlush: LOG_FLUSH_MS,
    contentMode: 'buffer',
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
    linesAsBuffers(destination),
  );
}

const WARN = pino.levels.values.warn!;

type BufferDestination = ReturnType<typeof pino.destination>;

/**
 * pino writes strings; the destination is given each line as a Buffer. In its string mode
 * sonic-boom appends a line to the text already waiting and measures that text's UTF-8 length on
 * every write, which flattens it: a copy of everything waiting per line (4 KiB a line on average
 * with an 8 KiB buffer, measured as the gateway's largest allocation per request). In buffer mode
 * it keeps the lines apart and joins them once per write(2).
 */
function linesAsBuffers(destination: BufferDestination): DestinationStream & {
  flush(cb: (error?: Error) => void): void;
} {
  return {
    // Its types say string; in buffer mode it takes Buffers (and counts their bytes).
    write: (line: string) => destination.write(Buffer.from(line) as unknown as string),
    flush: (cb) => destination.flush(cb),
  };
}

/** Writes every line logged so far (or gives up after `timeoutMs`, if stdout is stuck). */
export function flushLogger(logger: ProcessLogger, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs).unref();
    logger.flush(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
