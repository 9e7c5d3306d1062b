import { write as fsWrite } from 'node:fs';

/** What a log sink has done with the lines given to it, for the process's metrics. */
export interface LogSinkStats {
  /** Lines handed to the sink. */
  lines: number;
  /** Lines that will never be written: the buffer was full, or the reader went away. */
  dropped: number;
  /** True once the reader went away (EPIPE and the like): every later line is dropped. */
  broken: boolean;
}

export interface LogSinkOptions {
  /** Write once this many bytes wait… */
  flushBytes: number;
  /** …or this long after the first of them was logged. */
  flushMs: number;
  /** Past this many bytes waiting (a reader that does not keep up), new lines are dropped. */
  maxBufferedBytes: number;
  /** fs.write, replaceable in a unit test by one that fails as a pipe does. */
  write?: typeof fsWrite;
}

type WriteCallback = (error: NodeJS.ErrnoException | null, written: number) => void;

/**
 * The process's log destination: lines gathered into one buffer and written to a file descriptor
 * (stdout) in the background, at most one write at a time, never waiting on the reader.
 *
 * Why not pino's sonic-boom: its synchronous writes wait for the reader, and when the reader has
 * gone (`switchyard gateway | head -3`, after head exits) its flushSync retries a failed write
 * forever, sleeping in Atomics.wait between tries, so the main thread stops serving and never
 * sees SIGTERM (issue 23). Here a log sink that fails never stops the process: a reader that is
 * slow fills a bounded buffer and lines past it are dropped and counted; a reader that is gone
 * (EPIPE, EBADF…) drops every line from then on, counted; EAGAIN on a non-blocking pipe is retried
 * on the next flush. A blocking descriptor that stops being read would hold one thread-pool
 * thread in write(2), which libuv joins at exit: the process logger opens process.stdout first so
 * that fd 1 is non-blocking (src/shared/logger.ts). Lines are kept whole: the unwritten rest of a short write goes
 * first in the next write.
 */
export class LogSink {
  private readonly write: typeof fsWrite;
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private idle: (() => void)[] = [];
  readonly stats: LogSinkStats = { lines: 0, dropped: 0, broken: false };

  constructor(
    private readonly fd: number,
    private readonly options: LogSinkOptions,
  ) {
    this.write = options.write ?? fsWrite;
  }

  /** Takes one line (with its newline); never blocks, never throws. */
  line(text: string): void {
    this.stats.lines++;
    if (this.stats.broken) {
      this.stats.dropped++;
      return;
    }
    const bytes = Buffer.from(text);
    if (this.waitingBytes + bytes.length > this.options.maxBufferedBytes) {
      this.stats.dropped++;
      return;
    }
    this.waiting.push(bytes);
    this.waitingBytes += bytes.length;
    if (this.waitingBytes >= this.options.flushBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.flushMs).unref();
  }

  /** Starts writing what waits now (a warning goes out at once, with the lines before it). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.waitingBytes === 0 || this.stats.broken) return;
    const buffer =
      this.waiting.length === 1 ? this.waiting[0]! : Buffer.concat(this.waiting, this.waitingBytes);
    this.waiting = [];
    this.waitingBytes = 0;
    this.writing = true;
    this.writeFrom(buffer, 0);
  }

  /** Calls `done` once everything waiting now is written (or dropped). */
  whenIdle(done: () => void): void {
    if (!this.writing && (this.waitingBytes === 0 || this.stats.broken)) {
      done();
      return;
    }
    this.idle.push(done);
    this.flush();
  }

  private writeFrom(buffer: Buffer, offset: number): void {
    const finish: WriteCallback = (error, written) => {
      if (error) {
        this.writing = false;
        if (error.code === 'EAGAIN' || error.code === 'EWOULDBLOCK') {
          // The reader is slow: keep the rest first in line and try again on the next flush.
          this.requeue(buffer.subarray(offset));
        } else {
          // The reader is gone: nothing more can be written, ever.
          this.stats.broken = true;
          this.stats.dropped += countLines(buffer.subarray(offset)) + this.waiting.length;
          this.waiting = [];
          this.waitingBytes = 0;
        }
        this.settle();
        return;
      }
      const next = offset + written;
      if (next < buffer.length) {
        this.writeFrom(buffer, next); // a short write: the rest of the same lines, in order
        return;
      }
      this.writing = false;
      if (this.waitingBytes >= this.options.flushBytes || this.idle.length > 0) this.flush();
      else if (this.waitingBytes > 0)
        this.timer ??= setTimeout(() => this.flush(), this.options.flushMs).unref();
      this.settle();
    };
    this.write(this.fd, buffer, offset, buffer.length - offset, null, finish);
  }

  private requeue(rest: Buffer): void {
    this.waiting.unshift(rest);
    this.waitingBytes += rest.length;
    this.timer ??= setTimeout(() => this.flush(), this.options.flushMs).unref();
  }

  /** Tells those waiting for the sink to be idle, once it is (an EAGAIN's retry is the timer's). */
  private settle(): void {
    if (this.writing || (this.waitingBytes > 0 && !this.stats.broken)) return;
    const waiting = this.idle;
    this.idle = [];
    for (const done of waiting) done();
  }
}

function countLines(bytes: Buffer): number {
  let lines = 0;
  for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) lines++;
  return lines;
}
