import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { request } from 'undici';
import { silentLogger, type Logger } from '../logger.js';
import { CLIENT_LIMITS_DEFAULTS } from './client-limits.js';
import { createFastPathServer, type FastPathServerOptions } from './fast-path-server.js';

async function serve(overrides: Partial<FastPathServerOptions> = {}) {
  const logged: string[] = [];
  const logger: Logger = { ...silentLogger, error: (_obj, msg) => void logged.push(msg) };
  let ids = 0;
  let draining = false;
  const server = createFastPathServer((_request, response) => response.writeHead(299).end('fallback'), {
    routes: [
      {
        path: /^\/echo\/(\w+)$/,
        handle({ match, body, requestId }, reply) {
          if (match[1] === 'throw') throw new Error('boom');
          reply.send({ status: 200, headers: { 'x-id': requestId }, json: JSON.stringify({ body }) });
        },
      },
    ],
    bodyLimit: 16,
    parse: (bytes) => (bytes.length === 0 ? undefined : (JSON.parse(bytes.toString()) as unknown)),
    failure: (error, requestId) => ({
      answer: { status: 500, headers: { 'x-id': requestId }, json: JSON.stringify({ error: String(error) }) },
      unexpected: true,
    }),
    tooLarge: (requestId) => ({ status: 413, headers: { 'x-id': requestId }, json: '{}' }),
    undecodable: (problem, requestId) => ({
      status: problem.statusCode,
      headers: { 'x-id': requestId },
      json: JSON.stringify({ kind: problem.kind }),
    }),
    lingerOnTooLarge: false,
    requestId: () => `id-${++ids}`,
    draining: () => draining,
    logger,
    keepAliveTimeout: 65_000,
    clientLimits: CLIENT_LIMITS_DEFAULTS,
    refused: (reason, detail) => ({ status: 400, json: JSON.stringify({ reason, detail }) }),
    ...overrides,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, url, logged, drain: () => void (draining = true) };
}

test('hot POST routes are answered with content-length; the rest goes to the fallback', async (t) => {
  const { server, url } = await serve();
  t.after(() => server.close());
  const hot = await request(`${url}/echo/a`, { method: 'POST', body: '{"x":1}' });
  assert.equal(hot.statusCode, 200);
  assert.equal(hot.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(hot.headers['x-id'], 'id-1', 'the id decided on arrival');
  const text = await hot.body.text();
  assert.equal(hot.headers['content-length'], String(Buffer.byteLength(text)));
  assert.deepEqual(JSON.parse(text), { body: { x: 1 } });
  for (const [method, path] of [
    ['GET', '/echo/a'],
    ['POST', '/echo/a?q=1'],
    ['POST', '/other'],
  ] as const) {
    const cold = await request(`${url}${path}`, { method });
    assert.equal(cold.statusCode, 299, `${method} ${path}`);
    await cold.body.text();
  }
  assert.equal(server.keepAliveTimeout, 65_000);
});

test('a throwing handler or a body that does not parse is answered by failure, with the same id, and logged', async (t) => {
  const { server, url, logged } = await serve();
  t.after(() => server.close());
  const thrown = await request(`${url}/echo/throw`, { method: 'POST', body: '{}' });
  assert.equal(thrown.statusCode, 500);
  assert.equal(thrown.headers['x-id'], 'id-1');
  await thrown.body.text();
  const malformed = await request(`${url}/echo/a`, { method: 'POST', body: '{' });
  assert.equal(malformed.statusCode, 500);
  assert.equal(malformed.headers['x-id'], 'id-2');
  await malformed.body.text();
  assert.deepEqual(logged, ['request failed', 'request failed']);
});

test('a body over the limit gets tooLarge; with lingering, the connection closes after it', async (t) => {
  for (const linger of [false, true]) {
    const { server, url } = await serve({ lingerOnTooLarge: linger });
    t.after(() => server.close());
    const answer = await request(`${url}/echo/a`, { method: 'POST', body: '"0123456789abcdefghij"' });
    assert.equal(answer.statusCode, 413);
    assert.equal(answer.headers['x-id'], 'id-1');
    assert.equal(answer.headers.connection, linger ? 'close' : 'keep-alive');
    await answer.body.text();
  }
});

test('while draining every answer closes its connection', async (t) => {
  const clientLimits = { ...CLIENT_LIMITS_DEFAULTS, requestTimeoutMs: 1234 };
  const { server, url, drain } = await serve({ clientLimits, connectionTimeout: 5678 });
  t.after(() => server.close());
  assert.equal(server.requestTimeout, 1234);
  assert.equal(server.headersTimeout, 1234, 'the head is part of the request');
  assert.equal(server.timeout, 5678);
  drain();
  for (const path of ['/echo/a', '/other']) {
    const answer = await request(`${url}${path}`, { method: 'POST', body: '{}' });
    assert.equal(answer.headers.connection, 'close', path);
    await answer.body.text();
  }
});
