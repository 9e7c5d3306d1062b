import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { spawnChild } from './children.js';
import { freePort, waitUntil } from './net.js';
import { tail, type Server } from './switchyard.js';
import { requireTool } from './tools.js';
import { freshDir } from './workdir.js';
import { answersPing } from '../../test/harness/redis.js';

/** A throwaway redis-server on loopback with persistence off; `url` is redis://127.0.0.1:PORT. */
export async function startRedis(): Promise<Server> {
  const binary = requireTool('redis-server');
  let lastError: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    const dir = freshDir('redis');
    const port = await freePort();
    const logFile = join(dir, 'out.log');
    const fd = openSync(logFile, 'a');
    const child = spawnChild(
      'redis-server',
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    let exited = false;
    void child.exited.then(() => (exited = true));
    try {
      await waitUntil(
        'redis-server answering PING',
        async () => {
          if (exited) throw new Error(`redis-server exited at start:\n${tail(logFile)}`);
          return answersPing(port);
        },
        5_000,
      );
      return { ...child, url: `redis://127.0.0.1:${port}`, logFile };
    } catch (error) {
      lastError = error;
      await child.stop('SIGKILL');
    }
  }
  throw lastError;
}
