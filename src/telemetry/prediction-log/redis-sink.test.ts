import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { REDIS_NOT_FOUND, startRedis, type StartedRedis } from '../../../test/harness/redis.js';
import { waitFor } from '../../../test/harness/process.js';
import { closeRedisClient, createRedisClient } from '../../ratelimit/index.js';
import { RedisStreamSink } from './redis-sink.js';

function recorder() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const push = (level: string) => (fields: object, msg: string) =>
    lines.push({ level, msg, fields: fields as Record<string, unknown> });
  return { lines, logger: { info: push('info'), warn: push('warn') } };
}

async function redisOrSkip(t: TestContext): Promise<StartedRedis | undefined> {
  // Its files (the AOF the first test turns on) in a temp dir, not the working directory.
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-redis-'));
  let redis: StartedRedis | undefined;
  t.after(async () => {
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  try {
    redis = await startRedis({ dir });
    return redis;
  } catch (error) {
    if ((error as Error).message !== REDIS_NOT_FOUND) throw error;
    t.skip(REDIS_NOT_FOUND);
    return undefined;
  }
}

const persistenceWarning = /no append-only file/;

test('the stream sink warns at each connect to a Redis without an append-only file, and not once it has one', async (t) => {
  const redis = await redisOrSkip(t);
  if (!redis) return;
  const admin = new Redis(redis.url);
  t.after(() => admin.disconnect());
  const { lines, logger } = recorder();
  const client = createRedisClient(redis.url, { command_timeout_ms: 2000, auto_pipelining: false });
  const sink = new RedisStreamSink(client, { key: 'test:p', maxlen: 1000 }, logger);
  t.after(() => sink.close());

  // The test harness runs redis-server with --appendonly no, as a dev Redis often is.
  await waitFor('the warning', async () => lines.some((l) => persistenceWarning.test(l.msg)));
  const warning = lines.find((l) => persistenceWarning.test(l.msg))!;
  assert.equal(warning.level, 'warn');
  assert.equal(warning.fields.appendonly, 'no');
  assert.deepEqual(await sink.write(['{"n":1}']), [], 'the records still go to the stream');

  // With an AOF switched on, the next connection finds nothing to say.
  await admin.config('SET', 'appendonly', 'yes');
  const before = lines.length;
  client.disconnect(true);
  await once(client, 'ready', { signal: AbortSignal.timeout(5000) });
  assert.deepEqual(await sink.write(['{"n":2}']), []);
  assert.deepEqual(
    lines.slice(before).filter((l) => persistenceWarning.test(l.msg)),
    [],
  );
});

test('a Redis that refuses CONFIG (as managed ones do) gets one info line, and records still go', async (t) => {
  const redis = await redisOrSkip(t);
  if (!redis) return;
  const admin = new Redis(redis.url);
  t.after(() => admin.disconnect());
  await admin.acl('SETUSER', 'logger', 'on', '>secret', '~*', '+@all', '-config');
  const url = redis.url.replace('redis://', 'redis://logger:secret@');
  const { lines, logger } = recorder();
  const client = createRedisClient(url, { command_timeout_ms: 2000, auto_pipelining: false });
  const sink = new RedisStreamSink(client, { key: 'test:p', maxlen: 1000 }, logger);
  t.after(() => closeRedisClient(client));

  await waitFor('the info line', async () => lines.some((l) => /cannot read Redis persistence/.test(l.msg)));
  client.disconnect(true);
  await once(client, 'ready', { signal: AbortSignal.timeout(5000) });
  assert.deepEqual(await sink.write(['{"n":1}']), []);
  assert.deepEqual(
    lines.map((l) => l.level),
    ['info'],
    `one line, and no warning: ${lines.map((l) => l.msg).join(' | ')}`,
  );
  assert.match(String(lines[0]!.fields.err), /NOPERM/);
});
