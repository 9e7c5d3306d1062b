import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { StartedProcess } from '../harness/process.js';
import { parseRawResponse, piecesOf, trickle, type RawExchange } from '../harness/raw-http.js';
import { startRuntime } from '../harness/runtime.js';

// The runtime's HTTP server is the gateway's (src/shared/http/fast-path-server.ts), with its own
// limits from the command line and the Open Inference Protocol's error body, {"error": "…"}.
let runtime: StartedProcess;

before(async () => {
  runtime = await startRuntime({
    args: ['--header-timeout-ms', '1000', '--body-timeout-ms', '1000', '--request-timeout-ms', '5000'],
  });
});
after(async () => {
  assert.equal(await runtime.stop(), 0);
});

function assertRefused(exchange: RawExchange, status: number, message: RegExp): void {
  const response = parseRawResponse(exchange.received);
  assert.ok(response, `an answer, got ${JSON.stringify(exchange.received)}`);
  assert.equal(response.status, status);
  assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(response.headers.connection, 'close');
  const { error } = JSON.parse(response.body) as { error: string };
  assert.match(error, message);
  assert.ok(exchange.closed, 'the connection is closed');
}

test('a head sent a byte at a time is answered 408 and closed before it is complete', async () => {
  const slowHead = piecesOf('GET /v2/health/live HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
  const exchange = await trickle(runtime.url, slowHead, 300, 3000);
  assertRefused(exchange, 408, /headers did not arrive in time/);
  assert.ok(
    exchange.closedEarly && exchange.written <= 16,
    `wrote ${exchange.written} of ${slowHead.length}`,
  );
});

test('an infer body that stops arriving is answered 408 and closed', async () => {
  const head =
    'POST /v2/models/fraud/infer HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
    'content-length: 900000\r\n\r\n{';
  const exchange = await trickle(runtime.url, [head, ' ', ' '], 1500, 3000);
  assertRefused(exchange, 408, /body did not arrive in time/);
  assert.equal(exchange.written, 1, 'cut off in the first pause');
});

test('what the parser refuses is answered in JSON: 431 for headers over the limit, 400 otherwise', async () => {
  const big = await trickle(
    runtime.url,
    [`GET /v2 HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`],
    0,
    3000,
  );
  assertRefused(big, 431, /headers are larger than the limit/);
  const malformed = await trickle(runtime.url, ['GET /v2 HTTP/1.1 extra\r\n\r\n'], 0, 3000);
  assertRefused(malformed, 400, /not valid HTTP/);
});

test('refusals are counted by reason', async () => {
  const text = await (await fetch(`${runtime.url}/metrics`)).text();
  for (const reason of ['header_timeout', 'body_timeout', 'headers_too_large', 'malformed']) {
    assert.match(text, new RegExp(`^switchyard_runtime_http_refused_total\\{reason="${reason}"\\} 1$`, 'm'));
  }
});
