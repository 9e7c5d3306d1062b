import type { Redis } from 'ioredis';
import { closeRedisClient } from '../../ratelimit/index.js';
import type { Logger } from '../../shared/logger.js';
import { OutageLog } from '../../shared/outage-log.js';
import type { RecordSink } from './writer.js';

export interface RedisStreamOptions {
  key: string;
  /** `XADD … MAXLEN ~ maxlen`: Redis trims whole macro-nodes, so the stream may run a little longer. */
  maxlen: number;
}

/**
 * Appends each record to a Redis stream as one entry with a `data` field holding its JSON, all of a
 * batch in one pipeline. A record Redis did not confirm comes back to the writer, which spills it
 * to the file; one Redis stored after our timeout may then be in both (at least once, never lost).
 * The client is the log's own connection, so a batch never queues in front of a rate-limit check.
 *
 * A confirmed XADD is in Redis's memory: it survives Redis only as far as Redis persists it
 * (README, "The prediction log in Redis"), which is checked, and warned about, at each connect.
 */
export class RedisStreamSink implements RecordSink {
  readonly name = 'redis';
  private readonly outage: OutageLog;
  private persistenceUnknownLogged = false;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisStreamOptions,
    private readonly logger: Pick<Logger, 'info' | 'warn'>,
  ) {
    this.outage = new OutageLog(logger, {
      subject: 'prediction log',
      consequence: 'records go to the file instead',
      unit: 'records',
      fields: () => ({ stream: options.key }),
    });
    redis.on('ready', () => void this.checkPersistence());
  }

  async write(lines: readonly string[]): Promise<readonly string[]> {
    // Disconnected: fail at once (the client has no offline queue) rather than wait for a reconnect.
    if (this.redis.status !== 'ready') {
      this.outage.failed(`connection ${this.redis.status}`, lines.length);
      return lines;
    }
    const pipeline = this.redis.pipeline();
    const maxlen = String(this.options.maxlen);
    for (const line of lines) pipeline.xadd(this.options.key, 'MAXLEN', '~', maxlen, '*', 'data', line);
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      this.outage.failed(error, lines.length);
      return lines;
    }
    if (!results) {
      this.outage.failed('the pipeline was discarded', lines.length);
      return lines;
    }
    const refused = lines.filter((_, i) => {
      const result = results[i];
      return !result || result[0] !== null;
    });
    if (refused.length === 0) this.outage.recovered();
    else this.outage.failed(results.find(([error]) => error)?.[0] ?? 'no reply', refused.length);
    return refused;
  }

  async close(): Promise<void> {
    await closeRedisClient(this.redis);
  }

  /**
   * Without an append-only file, a Redis that dies takes every record in the stream with it (an
   * RDB snapshot keeps only what was in it). Managed Redis often refuses CONFIG: then only say so,
   * once; the operator must know what the service persists.
   */
  private async checkPersistence(): Promise<void> {
    let reply: unknown;
    try {
      reply = await this.redis.config('GET', 'append*');
    } catch (error) {
      if (this.persistenceUnknownLogged) return;
      this.persistenceUnknownLogged = true;
      this.logger.info(
        { stream: this.options.key, err: error instanceof Error ? error.message : String(error) },
        'prediction log: cannot read Redis persistence settings (CONFIG GET refused); without an append-only file a Redis restart loses the stream',
      );
      return;
    }
    const settings = new Map<string, string>();
    if (Array.isArray(reply))
      for (let i = 0; i + 1 < reply.length; i += 2) settings.set(String(reply[i]), String(reply[i + 1]));
    if (settings.get('appendonly') === 'yes') return;
    this.logger.warn(
      { stream: this.options.key, appendonly: settings.get('appendonly') ?? null },
      'prediction log: Redis has no append-only file (appendonly no): a Redis restart loses every record in the stream; run it with --appendonly yes --appendfsync everysec',
    );
  }
}
