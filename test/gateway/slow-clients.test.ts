import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fraudRows } from '../harness/fraud.js';
import {
  AUTH,
  DEMO_KEY,
  decisionBody,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient, getJson, postJson, wireError } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import {
  closedWithin,
  openSocket,
  parseRawResponse,
  piecesOf,
  trickle,
  type RawExchange,
} from '../harness/raw-http.js';
import { startRuntime } from '../harness/runtime.js';
import type { ErrorCode } from '../../src/errors.js';

// Clients that hold a connection by sending slowly (issue 22, item 4): the head must arrive within
// limits.header_timeout_ms, a body may not pause longer than limits.body_timeout_ms between two
// reads, a whole request may take limits.request_timeout_ms; each is answered 408 and closed.
// Small limits keep every case a few seconds long; each loop is bounded by its list of pieces.
const HEADER_TIMEOUT_MS = 1000;
const BODY_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 6000;
const client = createClient();
let runtime: StartedProcess;
let gateway: GatewayUnderTest;
const body = JSON.stringify(decisionBody(fraudRows(1, 5)[0]!, 'u-slow-1'));

before(async () => {
  runtime = await startRuntime();
  gateway = await startGateway({
    // The fast path's budget counts from the head's arrival, so a slow body would use it up.
    ...fraudGatewayConfig([runtime.url], { model: { budget_ms: 10_000 } }),
    limits: {
      header_timeout_ms: HEADER_TIMEOUT_MS,
      body_timeout_ms: BODY_TIMEOUT_MS,
      request_timeout_ms: REQUEST_TIMEOUT_MS,
    },
  });
  await upstreamHealthy(client, gateway.url);
});
after(async () => {
  await client.close();
  assert.equal(await gateway.stop(), 0);
  assert.equal(await runtime.stop(), 0);
});

/** A decision request's head for `path`, declaring `length` body bytes; the answer closes the connection. */
const head = (path: string, length: number) =>
  `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${DEMO_KEY}\r\n` +
  `content-type: application/json\r\ncontent-length: ${length}\r\nconnection: close\r\n\r\n`;

function assertTimedOut(exchange: RawExchange, what: string): void {
  const response = parseRawResponse(exchange.received);
  assert.ok(response, `${what}: an answer before the close, got ${JSON.stringify(exchange.received)}`);
  assert.equal(response.status, 408, what);
  assert.equal(response.headers.connection, 'close', what);
  assert.equal(response.headers['content-type'], 'application/json; charset=utf-8', what);
  const error = wireError(response.body);
  assert.equal(error?.code, 'SWY_ERR_HTTP_REQUEST_TIMEOUT' satisfies ErrorCode, what);
  assert.ok(exchange.closed, `${what}: the connection is closed`);
}

test('clients sending the head a byte at a time are answered 408 and closed before it is complete', async () => {
  // 50 bytes at 300 ms: 15 s to send the head, cut off at about a second.
  const slowHead = piecesOf('GET /livez HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: 1\r\n\r\n');
  const exchanges = await Promise.all(
    Array.from({ length: 20 }, () => trickle(gateway.url, slowHead, 300, 3000)),
  );
  for (const [i, exchange] of exchanges.entries()) {
    assertTimedOut(exchange, `client ${i}`);
    assert.ok(exchange.closedEarly, `client ${i}: cut off while still sending its head`);
    // The timeout plus Node's check interval, with room for a loaded machine: far from all 50.
    assert.ok(exchange.written <= 16, `client ${i} wrote ${exchange.written} of ${slowHead.length} bytes`);
  }
  // A connection that sends nothing at all is held no longer.
  const silent = await openSocket(gateway.url);
  let received = '';
  silent.on('data', (chunk: Buffer) => (received += chunk.toString()));
  assert.ok(await closedWithin(silent, 5000), 'a silent connection is closed');
  silent.destroy();
  assertTimedOut({ received, written: 0, closedEarly: true, closed: true }, 'silent client');
  // Everyone else is still served.
  assert.equal((await getJson(client, `${gateway.url}/livez`)).status, 200);
});

test('a body that stops arriving gets 408 and a closed connection, on the fast path and through Fastify', async () => {
  // The first piece at once, then pauses longer than the body timeout.
  const pieces = (path: string) => [`${head(path, 900_000)}{`, ' ', ' ', ' ', ' '];
  const [hot, fastify] = await Promise.all(
    ['/v1/decisions/fraud', '/v1/decisions/fraud?door=fastify'].map((path) =>
      trickle(gateway.url, pieces(path), BODY_TIMEOUT_MS * 1.5, 3000),
    ),
  );
  for (const [what, exchange] of [
    ['fast path', hot!],
    ['Fastify', fastify!],
  ] as const) {
    assertTimedOut(exchange, what);
    assert.equal(exchange.written, 1, `${what}: cut off in the first pause`);
  }
  assert.ok(parseRawResponse(hot!.received)?.headers['x-request-id'], 'the request had begun: it has an id');
});

test('a body that arrives slowly but never pauses for long is served, however long it takes in all', async () => {
  // 12 pieces 300 ms apart: 3.3 s in all, three times the body timeout, half the request's.
  const size = Math.ceil(body.length / 12);
  const exchanges = await Promise.all(
    ['/v1/decisions/fraud', '/v1/decisions/fraud?door=fastify'].map((path) =>
      trickle(gateway.url, [head(path, Buffer.byteLength(body)), ...piecesOf(body, size)], 300, 5000),
    ),
  );
  for (const exchange of exchanges) {
    assert.equal(exchange.closedEarly, false, 'not cut off');
    const response = parseRawResponse(exchange.received);
    assert.equal(response?.status, 200, exchange.received);
    assert.ok((JSON.parse(response.body) as { decision?: string }).decision);
  }
});

test('a body that trickles in just faster than the body timeout is cut off by the request timeout', async () => {
  // A byte every 300 ms of a declared 900 000: the body timeout never fires, the whole request's does.
  const pieces = [head('/v1/decisions/fraud', 900_000), ...piecesOf(' '.repeat(40))];
  const exchange = await trickle(gateway.url, pieces, 300, 3000);
  assertTimedOut(exchange, 'trickle');
  assert.ok(exchange.closedEarly, 'cut off while still sending');
  // The request timeout at about 20 pieces, with room for a loaded machine.
  assert.ok(exchange.written >= 10 && exchange.written <= 30, `wrote ${exchange.written} pieces`);
});

test('each refusal is counted by reason', async () => {
  const metrics = await getJson(client, `${gateway.url}/metrics`);
  for (const reason of ['header_timeout', 'body_timeout', 'request_timeout']) {
    const line = new RegExp(`^switchyard_http_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(
      metrics.text,
    );
    assert.ok(line && Number(line[1]) > 0, `${reason} counted`);
  }
  assert.match(metrics.text, /^switchyard_http_refused_total\{reason="connection_cap"\} 0$/m);
  // Callers that send at a normal pace are served as before.
  const answer = await postJson(client, `${gateway.url}/v1/decisions/fraud`, JSON.parse(body), AUTH);
  assert.equal(answer.status, 200);
});
