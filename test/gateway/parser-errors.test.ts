import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEMO_KEY, fraudGatewayConfig, startGateway, type GatewayUnderTest } from '../harness/gateway.js';
import { wireError } from '../harness/http.js';
import { parseRawResponse, trickle } from '../harness/raw-http.js';
import type { ErrorCode } from '../../src/errors.js';

// What Node's HTTP parser refuses is answered in the gateway's JSON error shape with
// `connection: close`, not Node's plain-text 400/431 with no body. Nothing here reaches a model,
// so the gateway's upstream is an address nothing listens on.
let gateway: GatewayUnderTest;

before(async () => {
  gateway = await startGateway(fraudGatewayConfig(['http://127.0.0.1:9']));
});
after(async () => {
  assert.equal(await gateway.stop(), 0);
});

const cases: { what: string; request: string; status: number; code: ErrorCode }[] = [
  {
    what: 'headers over the parser limit (16 KiB)',
    request: `GET /livez HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
    status: 431,
    code: 'SWY_ERR_HTTP_HEADERS_TOO_LARGE',
  },
  {
    what: 'a malformed request line',
    request: 'GET /livez HTTP/1.1 extra\r\nhost: 127.0.0.1\r\n\r\n',
    status: 400,
    code: 'SWY_ERR_HTTP_MALFORMED_REQUEST',
  },
  {
    what: 'a control character in the method',
    request: 'G\x01T /livez HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n',
    status: 400,
    code: 'SWY_ERR_HTTP_MALFORMED_REQUEST',
  },
  {
    what: 'a header line without a colon',
    request: 'GET /livez HTTP/1.1\r\nhost: 127.0.0.1\r\nno colon here\r\n\r\n',
    status: 400,
    code: 'SWY_ERR_HTTP_MALFORMED_REQUEST',
  },
  {
    // Found after the request was handed to the fast path, before any answer was started.
    what: 'a chunked body with a chunk size that is not hex, on a model route',
    request:
      `POST /v1/decisions/fraud HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${DEMO_KEY}\r\n` +
      'content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    status: 400,
    code: 'SWY_ERR_HTTP_MALFORMED_REQUEST',
  },
];

for (const { what, request, status, code } of cases) {
  test(`${what}: ${status} ${code}, in JSON, and the connection closed`, async () => {
    const exchange = await trickle(gateway.url, [request], 0, 3000);
    const response = parseRawResponse(exchange.received);
    assert.ok(response, `an answer, got ${JSON.stringify(exchange.received)}`);
    assert.equal(response.status, status);
    assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(response.headers.connection, 'close');
    assert.equal(Number(response.headers['content-length']), Buffer.byteLength(response.body));
    const error = wireError(response.body);
    assert.equal(error?.code, code);
    assert.ok(error.message.length > 0);
    assert.ok(exchange.closed, 'the connection is closed');
  });
}

test('each is counted by reason', async () => {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const count = (reason: string) =>
    Number(new RegExp(`^switchyard_http_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  assert.equal(count('headers_too_large'), 1);
  assert.equal(count('malformed'), 4);
});
