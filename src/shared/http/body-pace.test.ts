import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchBodyPace } from './body-pace.js';

const TIMEOUT_MS = 200;

/** A node:http server that reads bodies and records the requests reported stalled. */
async function serve() {
  const stalled: string[] = [];
  const server = createServer((request, response) => {
    watch(request, response);
    request.resume().on('end', () => response.end('read'));
  });
  const watch = watchBodyPace(server, TIMEOUT_MS, (request: IncomingMessage, response) => {
    stalled.push(request.url!);
    response.writeHead(408, { connection: 'close' }).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, stalled };
}

/** Sends the head of a POST, then one byte of its body after each of `gapsMs`; what came back. */
async function send(port: number, path: string, gapsMs: number[]): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: ${gapsMs.length}\r\n\r\n`);
  for (const gap of gapsMs) {
    await sleep(gap);
    if (socket.destroyed || received) break;
    socket.write('x');
  }
  await sleep(TIMEOUT_MS / 2);
  socket.destroy();
  return received;
}

test('a body that pauses longer than the timeout is reported; one that keeps coming, however slowly, is not', async (t) => {
  const { server, port, stalled } = await serve();
  t.after(() => server.close());
  const [paused, steady] = await Promise.all([
    send(port, '/paused', [50, TIMEOUT_MS * 2, 50]),
    // Eight gaps of half the timeout: four times the timeout in all.
    send(port, '/steady', Array<number>(8).fill(TIMEOUT_MS / 2)),
  ]);
  assert.match(paused, /^HTTP\/1\.1 408/);
  assert.match(steady, /^HTTP\/1\.1 200/);
  assert.deepEqual(stalled, ['/paused']);
});
