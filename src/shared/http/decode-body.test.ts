import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import type { BodyProblem } from './body-problem.js';
import { bodyCodingOf, decodeBody, type BodyCoding } from './decode-body.js';

test('Content-Encoding names one coding decoded here, identity, or a 415 problem', () => {
  const cases: [string, string][] = [
    ['gzip', 'gzip'],
    ['GZIP', 'gzip'],
    [' x-gzip ', 'gzip'],
    ['Deflate', 'deflate'],
    ['identity', 'identity'],
    ['', 'identity'],
    ['gzip, identity', 'gzip'],
    ['br', 'unsupported_encoding'],
    ['deflate, gzip', 'unsupported_encoding'],
  ];
  for (const [header, expected] of cases) {
    const coding = bodyCodingOf(header, 100);
    assert.equal(typeof coding === 'object' ? coding.kind : coding, expected, header);
  }
});

/** Decodes `bytes`, arriving in pieces of `piece` bytes, and says how it ended. */
function decode(bytes: Buffer, coding: BodyCoding, limit: number, piece = 1000) {
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += piece) pieces.push(bytes.subarray(at, at + piece));
  const source = Readable.from(pieces);
  return new Promise<{ body?: Buffer; problem?: BodyProblem }>((resolve) => {
    const chunks: Buffer[] = [];
    decodeBody(source, coding, limit, {
      onChunk: (chunk) => chunks.push(chunk),
      onEnd: () => resolve({ body: Buffer.concat(chunks) }),
      onProblem: (problem) => resolve({ problem }),
    });
  });
}

test('gzip, zlib deflate and raw deflate decode to the body; an empty body is empty', async () => {
  const text = JSON.stringify({ data: Array.from({ length: 5000 }, (_, i) => i % 7) });
  assert.equal((await decode(gzipSync(text), 'gzip', 1 << 20)).body?.toString(), text);
  assert.equal((await decode(deflateSync(text), 'deflate', 1 << 20)).body?.toString(), text);
  assert.equal((await decode(deflateRawSync(text), 'deflate', 1 << 20)).body?.toString(), text);
  assert.equal((await decode(Buffer.alloc(0), 'gzip', 10)).body?.length, 0);
});

test('decoding stops at the limit of the decoded size: 413, having inflated at most a piece more', async () => {
  const limit = 256 * 1024;
  let decoded = 0;
  const source = Readable.from([gzipSync(Buffer.alloc(64 << 20))]);
  const problem = await new Promise<BodyProblem>((resolve, reject) =>
    decodeBody(source, 'gzip', limit, {
      onChunk: (chunk) => (decoded += chunk.length),
      onEnd: () => reject(new Error('ended')),
      onProblem: resolve,
    }),
  );
  assert.equal(problem.kind, 'too_large');
  assert.equal(problem.statusCode, 413);
  assert.ok(decoded <= limit, `${decoded} bytes handed on`);
});

test('a corrupt or truncated stream is a 400 problem', async () => {
  const good = gzipSync('{"a":1}'.repeat(100));
  const corrupt = Buffer.from(good);
  for (let at = 12; at < corrupt.length - 8; at += 3) corrupt[at] = corrupt[at]! ^ 0x5a;
  for (const bytes of [corrupt, good.subarray(0, good.length - 10), Buffer.from('not gzip at all')]) {
    const { problem } = await decode(bytes, 'gzip', 1 << 20);
    assert.equal(problem?.kind, 'malformed_encoding');
    assert.equal(problem?.statusCode, 400);
  }
});
