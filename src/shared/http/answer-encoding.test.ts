import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { acceptsGzip, encodeAnswerPayload, GZIP_MIN_BYTES } from './answer-encoding.js';

test('Accept-Encoding takes gzip as RFC 9110 §12.5.3 says', () => {
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['GZIP', true],
    ['x-gzip', true],
    ['deflate, gzip;q=0.5', true],
    ['gzip;q=0', false],
    ['gzip; Q=0.000', false],
    ['gzip;q=oops', false],
    ['br, deflate', false],
    ['*', true],
    ['*;q=0', false],
    ['gzip;q=0, *', false],
    ['*;q=0, gzip', true],
    ['identity', false],
  ];
  for (const [header, expected] of cases) assert.equal(acceptsGzip(header), expected, String(header));
});

test('a Fastify payload is gzipped only when large enough and accepted; Vary whenever large enough', async () => {
  const large = JSON.stringify({ data: Array.from({ length: 400 }, (_, i) => i) });
  assert.ok(large.length >= GZIP_MIN_BYTES);
  const small = '{"decision":"approve"}';
  const headersOf = async (accept: string | undefined, payload: string) => {
    const headers: Record<string, string> = {};
    const out = await encodeAnswerPayload(accept, payload, (name, value) => (headers[name] = value));
    return { headers, out };
  };
  const gzipped = await headersOf('gzip', large);
  assert.deepEqual(gzipped.headers, { vary: 'Accept-Encoding', 'content-encoding': 'gzip' });
  assert.equal(gunzipSync(gzipped.out as Buffer).toString(), large);
  const refused = await headersOf('gzip;q=0', large);
  assert.deepEqual(refused.headers, { vary: 'Accept-Encoding' });
  assert.equal(refused.out, large);
  const tiny = await headersOf('gzip', small);
  assert.deepEqual(tiny.headers, {});
  assert.equal(tiny.out, small);
});
