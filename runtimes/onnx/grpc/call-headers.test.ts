import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metadata } from '@grpc/grpc-js';
import { callHeaders } from './call-headers.js';

const NOW = 1_800_000_000_000;

function metadata(entries: Record<string, string>): Metadata {
  const m = new Metadata();
  for (const [key, value] of Object.entries(entries)) m.set(key, value);
  return m;
}

test("the call's deadline becomes the time left, in x-request-timeout-ms", () => {
  assert.deepEqual(callHeaders(new Metadata(), NOW + 250, NOW), { 'x-request-timeout-ms': '250' });
  assert.deepEqual(callHeaders(new Metadata(), new Date(NOW + 40), NOW), { 'x-request-timeout-ms': '40' });
});

test('a deadline already past is a budget of 0, never a negative one', () => {
  assert.deepEqual(callHeaders(new Metadata(), NOW - 5, NOW), { 'x-request-timeout-ms': '0' });
});

test("the gRPC deadline wins over the metadata's x-request-timeout-ms; without one, the metadata counts", () => {
  const given = metadata({ 'x-request-timeout-ms': '9000' });
  assert.equal(callHeaders(given, NOW + 100, NOW)['x-request-timeout-ms'], '100');
  assert.equal(callHeaders(given, Infinity, NOW)['x-request-timeout-ms'], '9000');
});

test('trace context is carried; other metadata is not', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const headers = callHeaders(
    metadata({ traceparent, tracestate: 'a=1', authorization: 'Bearer secret' }),
    Infinity,
    NOW,
  );
  assert.deepEqual(headers, { traceparent, tracestate: 'a=1' });
});
