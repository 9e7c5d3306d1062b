import { resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/logger.js';
import { createRedisClient } from '../../ratelimit/index.js';
import type { PredictionLogConfig } from './config.js';
import { RotatingFileSink } from './file-sink.js';
import { createPredictionLogMetrics } from './metrics.js';
import type { LogRecord } from './record.js';
import { RedisStreamSink } from './redis-sink.js';
import { RecordWriter } from './writer.js';

export { PredictionLogConfigSchema, PredictionLogModelFields, type PredictionLogConfig } from './config.js';
export {
  predictionRecord,
  refusalRecord,
  roundMs,
  shadowRecord,
  type LogRecord,
  type PredictionRecord,
  type ShadowRecord,
  type ShadowReport,
} from './record.js';

/** What the request path and the shadow stage see: a write that never waits and never throws. */
export interface PredictionLog {
  write(record: LogRecord | (() => LogRecord)): void;
  /** Resolves when everything written so far is stored. */
  flush(): Promise<void>;
  /** Stores what it holds and closes its sinks; later records are dropped and counted. */
  close(): Promise<void>;
}

export interface PredictionLogDeps {
  registry: Registry;
  logger: Logger;
  /** state.redis_url: set, records go to a Redis stream, spilling to the file when Redis fails. */
  redisUrl: string;
}

const disabled: PredictionLog = { write() {}, flush: async () => {}, close: async () => {} };

/** One per process: built at start, closed after the HTTP server (so after the last answer). */
export function createPredictionLog(config: PredictionLogConfig, deps: PredictionLogDeps): PredictionLog {
  if (!config.enabled) return disabled;
  const path = resolve(config.path);
  const file = new RotatingFileSink({
    path,
    rotateBytes: config.rotate_bytes,
    keepFiles: config.keep_files,
    logger: deps.logger,
  });
  // Its own connection with a longer timeout than the request path's: a batch may take a few ms.
  const redis = deps.redisUrl
    ? new RedisStreamSink(
        createRedisClient(deps.redisUrl, {
          command_timeout_ms: 2000,
          auto_pipelining: false,
          logger: deps.logger,
        }),
        config.redis_stream,
        deps.logger,
      )
    : undefined;
  const metrics = createPredictionLogMetrics(deps.registry, () => writer.buffered);
  const writer: RecordWriter = new RecordWriter({
    sink: redis ?? file,
    ...(redis ? { spill: file } : {}),
    capacity: config.buffer_records,
    metrics,
    logger: deps.logger,
  });
  deps.logger.info(
    redis
      ? { stream: config.redis_stream.key, spill: path }
      : { path, rotate_bytes: config.rotate_bytes, keep_files: config.keep_files },
    'prediction log',
  );
  return writer;
}
