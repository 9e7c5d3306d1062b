import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { LogSink, type LogSinkStats } from './log-sink.js';

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
const LOG_BUFFER_BYTES = 8192;
/** A reader that does not keep up gets this much buffered, then lines are dropped (and counted). */
const LOG_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** The process logger's sink: what it wrote and dropped, for the process's metrics. */
let processSink: LogSink | undefined;

/** Lines the process logger took and dropped so far (zeros before `createLogger`). */
export function logSinkStats(): LogSinkStats {
  return processSink?.stats ?? { lines: 0, dropped: 0, broken: false };
}

/**
 * The process's JSON logger on stdout, buffered: lines are written together once 8 KiB are
 * waiting, or 100 ms after they were logged, in the background (src/shared/log-sink.ts). pino's
 * default, one synchronous write(2) per line, put a syscall on every request's path (the request
 * log line): ~9% of the gateway's CPU under load; a synchronous write also waits for a reader
 * that has stopped reading, and the gateway stopped serving. Call `flushLogger` before exiting.
 */
export function createLogger(level: string): ProcessLogger {
  // Opening process.stdout has Node put a pipe or socket on fd 1 in non-blocking mode (libuv's
  // uv_pipe_open), so the sink's write to a reader that stopped reading fails with EAGAIN (kept,
  // then dropped) instead of holding a thread-pool thread in write(2): libuv joins those threads
  // when the process exits, so one stuck write kept a drained gateway from ever exiting after
  // SIGTERM. Nothing is written through process.stdout itself. (Found once the tests ran the
  // compiled CLI: through tsx, something had opened process.stdout already.)
  void process.stdout;
  const sink = new LogSink(1, {
    flushBytes: LOG_BUFFER_BYTES,
    flushMs: LOG_FLUSH_MS,
    maxBufferedBytes: LOG_MAX_BUFFERED_BYTES,
  });
  processSink = sink;
  const destination: DestinationStream & { flush(cb: (error?: Error) => void): void } = {
    write: (line: string) => sink.line(line),
    flush: (cb) => sink.whenIdle(() => cb()),
  };
  return pino(
    {
      level,
      hooks: {
        // A warning or an error goes out at once, with the lines before it: nobody waits for
        // the next flush to learn that a model failed to load.
        logMethod(args, method, levelValue) {
          method.apply(this, args);
          if (levelValue >= WARN) sink.flush();
        },
      },
    },
    destination,
  );
}

const WARN = pino.levels.values.warn!;

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
