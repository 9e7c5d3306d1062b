import { closeSync, openSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { spawnChild } from './children.js';
import { freePort, waitUntil } from './net.js';
import { tail, type Server } from './switchyard.js';
import { requireTool } from './tools.js';
import { freshDir } from './workdir.js';

/** A raw RESP PING, so readiness does not depend on the client the gateway uses. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

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
