import type { Redis } from 'ioredis';
import { closeRedisClient } from '../../ratelimit/index.js';
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
 */
export class RedisStreamSink implements RecordSink {
  readonly name = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisStreamOptions,
  ) {}

  async write(lines: readonly string[]): Promise<readonly string[]> {
    // Disconnected: fail at once (the client has no offline queue) rather than wait for a reconnect.
    if (this.redis.status !== 'ready') return lines;
    const pipeline = this.redis.pipeline();
    const maxlen = String(this.options.maxlen);
    for (const line of lines) pipeline.xadd(this.options.key, 'MAXLEN', '~', maxlen, '*', 'data', line);
    try {
      const results = await pipeline.exec();
      if (!results) return lines;
      return lines.filter((_, i) => {
        const result = results[i];
        return !result || result[0] !== null;
      });
    } catch {
      return lines;
    }
  }

  async close(): Promise<void> {
    await closeRedisClient(this.redis);
  }
}
