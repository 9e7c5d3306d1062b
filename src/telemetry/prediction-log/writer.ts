import type { Logger } from '../../shared/logger.js';
import type { PredictionLogMetrics } from './metrics.js';

/**
 * Where batches of records go. `write` resolves with the lines it could not store (none when all
 * went well), always a tail of the batch: the lines before it are stored whole. It never
 * rejects, so the writer decides what a failure means, and logs its own outages.
 */
export interface RecordSink {
  /** `redis` or `file`: the `sink` label of the records counter. */
  readonly name: string;
  write(lines: readonly string[]): Promise<readonly string[]>;
  close(): Promise<void>;
}

export interface WriterOptions {
  sink: RecordSink;
  /** Takes what `sink` refused (Redis down → local file). */
  spill?: RecordSink;
  /** Records held (waiting or being written) beyond which new ones are dropped. */
  capacity: number;
  /** A batch is written once this many records wait... */
  batchRecords?: number;
  /** ...or this long after the first of them arrived. */
  flushMs?: number;
  /** After the last sink refused records, the next try waits this long. Default 1000 ms. */
  retryMs?: number;
  metrics: PredictionLogMetrics;
  logger: Pick<Logger, 'warn' | 'error'>;
}

/** A record, or a function that builds it: building (hashing, copying inputs) then happens off the request path. */
export type Entry = object | (() => object);

/**
 * Records built in one turn of the event loop at most. Building and serialising takes ~10 µs a
 * record, so a slice holds a request that arrives meanwhile for ~0.2 ms; 64 was ~0.6 ms, visible
 * in the gateway's p99 at one connection.
 */
const SERIALIZE_SLICE = 16;

/** One failure log line per this many ms per kind: a failure is reported, not echoed per record. */
const COMPLAINT_INTERVAL_MS = 10_000;

/**
 * Takes records on the request path and writes them in batches behind it. `write` costs an
 * array push: it never waits, never throws, and when `capacity` records are already held it
 * drops the new one and counts it, so a slow or dead sink can cost records but never latency.
 *
 * A record is built and serialised in the turn after it was taken (setImmediate, in slices),
 * while the lines wait for a batch: an entry holds its request's whole context, and holding
 * ~50 ms of contexts until the batch was due made them survive young-generation GCs. Copying
 * them doubled the scavenge pauses (1.1 → 2.5 ms) and showed in the p99 at one connection
 * (1.5 → 2.5 ms); a line is one flat string, cheap to keep.
 *
 * What the last sink refuses (a full disk; Redis down and the spill file failing too) goes back
 * to the front of the queue and is tried again `retryMs` later: a record once taken is kept until
 * it is written, within the same `capacity` (new records are dropped meanwhile, counted as
 * buffer_full). Only `close()` gives up on what is still refused, counting it as lost.
 *
 * One batch is in flight at a time; `flush()` resolves when everything taken so far is written or,
 * a sink failing, has been tried once more; `close()` when everything is written or counted as lost.
 */
export class RecordWriter {
  /** Taken and not yet serialised. */
  private entries: Entry[] = [];
  /** Serialised, waiting for a batch. */
  private lines: string[] = [];
  /** Lines whose batch is being written. */
  private writing = 0;
  private serializing = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDelay = 0;
  private closed = false;
  /** The last batch was refused: records wait for the retry, not for a batch to fill. */
  private holding = false;
  private readonly lastComplaint = new Map<string, number>();
  private readonly batchRecords: number;
  private readonly flushMs: number;
  private readonly retryMs: number;

  constructor(private readonly options: WriterOptions) {
    this.batchRecords = options.batchRecords ?? 500;
    this.flushMs = options.flushMs ?? 50;
    this.retryMs = options.retryMs ?? 1000;
  }

  /** Records taken and not yet written. */
  get buffered(): number {
    return this.entries.length + this.lines.length + this.writing;
  }

  write(entry: Entry): void {
    if (this.closed) {
      this.options.metrics.dropped.inc({ reason: 'closed' });
      return;
    }
    if (this.buffered >= this.options.capacity) {
      this.options.metrics.dropped.inc({ reason: 'buffer_full' });
      return;
    }
    this.entries.push(entry);
    // Never built on the caller's stack: the answer goes out first.
    if (!this.serializing) {
      this.serializing = true;
      setImmediate(this.serializeSlice);
    }
  }

  /**
   * Resolves when every record taken before the call has been written, or when a batch was
   * refused meanwhile: what is held then waits for the next retry.
   */
  async flush(): Promise<void> {
    for (;;) {
      this.serialize(Infinity);
      if (this.lines.length === 0 && !this.running) return;
      await (this.running ?? this.start());
      if (this.holding) return;
    }
  }

  /**
   * Stops taking records (later ones are dropped and counted), writes what it holds — what the
   * sinks still refuse is counted as lost — and closes the sinks.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    const lost = this.lines.length;
    if (lost > 0) {
      this.lines = [];
      const sink = this.options.spill ?? this.options.sink;
      this.options.metrics.records.inc({ sink: sink.name, outcome: 'error' }, lost);
      this.options.logger.error(
        { records: lost },
        `prediction log: records the ${sink.name} refused until the log closed are lost`,
      );
    }
    await Promise.all([this.options.sink.close(), this.options.spill?.close()]);
  }

  private readonly serializeSlice = (): void => {
    this.serializing = false;
    this.serialize(SERIALIZE_SLICE);
    if (this.entries.length > 0) {
      this.serializing = true;
      setImmediate(this.serializeSlice);
    }
    // A full batch goes at once, a partial one soon (the running loop takes them otherwise).
    if (this.lines.length > 0 && !this.running) this.schedule(this.nextDelay());
  };

  /** When the loop should next run, lines waiting: a retry waits, a full batch does not. */
  private nextDelay(): number {
    if (this.holding) return this.retryMs;
    return this.lines.length >= this.batchRecords ? 0 : this.flushMs;
  }

  /** Builds and serialises up to `count` waiting records into lines. */
  private serialize(count: number): void {
    if (this.entries.length === 0) return;
    const slice = this.entries.length <= count ? this.entries : this.entries.splice(0, count);
    if (slice === this.entries) this.entries = [];
    for (const entry of slice) {
      try {
        this.lines.push(JSON.stringify(typeof entry === 'function' ? entry() : entry));
      } catch (error) {
        this.options.metrics.records.inc({ sink: this.options.sink.name, outcome: 'error' });
        this.complain('serialize', error, 'a prediction record could not be built; it is lost');
      }
    }
  }

  private start(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      // Lines that arrived during the last batch, or those held for a retry.
      if (this.lines.length > 0 && !this.closed) this.schedule(this.nextDelay());
    });
    return this.running;
  }

  /** Starts the loop in `delayMs`, or sooner if it is already due sooner (never sooner than a retry). */
  private schedule(delayMs: number): void {
    if (this.timer && (delayMs > 0 || this.timerDelay === 0 || this.holding)) return;
    clearTimeout(this.timer);
    this.timerDelay = delayMs;
    this.timer = setTimeout(() => void this.start(), delayMs).unref();
  }

  private async drain(): Promise<void> {
    while (this.lines.length > 0) {
      const batch =
        this.lines.length <= this.batchRecords ? this.lines : this.lines.slice(0, this.batchRecords);
      this.lines = batch === this.lines ? [] : this.lines.slice(this.batchRecords);
      this.writing = batch.length;
      let held: readonly string[];
      try {
        held = await this.writeBatch(batch);
      } finally {
        this.writing = 0;
      }
      this.holding = held.length > 0;
      if (this.holding) {
        // Back in front, in order; the sink is failing, so the rest wait for the retry too.
        this.lines = held.concat(this.lines);
        return;
      }
      // Let a partial batch fill for one more interval instead of writing records a few at a time.
      if (this.lines.length < this.batchRecords && !this.closed) return;
    }
  }

  /** Writes a batch to the sink, what it refuses to the spill; returns what neither took. */
  private async writeBatch(lines: readonly string[]): Promise<readonly string[]> {
    const { sink, spill, metrics } = this.options;
    const refused = await sink.write(lines);
    if (lines.length > refused.length)
      metrics.records.inc({ sink: sink.name, outcome: 'ok' }, lines.length - refused.length);
    if (refused.length === 0 || !spill) return this.held(sink, refused);
    // The sinks log their own outages (when, how long, how many records): no line here.
    const held = await spill.write(refused);
    const spilled = refused.length - held.length;
    if (spilled > 0) {
      metrics.records.inc({ sink: sink.name, outcome: 'spilled' }, spilled);
      metrics.records.inc({ sink: spill.name, outcome: 'ok' }, spilled);
    }
    return this.held(spill, held);
  }

  /** Lines the last sink refused, counted as retried: they stay in the buffer for another try. */
  private held(sink: RecordSink, lines: readonly string[]): readonly string[] {
    if (lines.length > 0)
      this.options.metrics.records.inc({ sink: sink.name, outcome: 'retried' }, lines.length);
    return lines;
  }

  private complain(kind: string, error: unknown, message: string): void {
    const now = Date.now();
    if (now - (this.lastComplaint.get(kind) ?? -Infinity) < COMPLAINT_INTERVAL_MS) return;
    this.lastComplaint.set(kind, now);
    this.options.logger.warn(error === undefined ? {} : { err: error }, message);
  }
}
