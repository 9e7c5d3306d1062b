import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyClientError, rawResponse } from './client-errors.js';

test('a clientError is sorted as Node sorts its own answers; a vanished client gets none', () => {
  assert.equal(classifyClientError('HPE_HEADER_OVERFLOW', false), 'headers_too_large');
  assert.equal(classifyClientError('HPE_INVALID_METHOD', false), 'malformed');
  assert.equal(classifyClientError('HPE_INVALID_CHUNK_SIZE', true), 'malformed');
  assert.equal(classifyClientError('ERR_HTTP_REQUEST_TIMEOUT', false), 'header_timeout');
  assert.equal(classifyClientError('ERR_HTTP_REQUEST_TIMEOUT', true), 'request_timeout');
  assert.equal(classifyClientError('ECONNRESET', false), undefined);
  assert.equal(classifyClientError(undefined, false), undefined);
});

test('a raw answer is a whole HTTP/1.1 response that closes the connection', () => {
  const json = '{"error":"é"}';
  const text = rawResponse({ status: 408, headers: { 'x-request-id': 'r-1' }, json });
  assert.equal(
    text,
    'HTTP/1.1 408 Request Timeout\r\nx-request-id: r-1\r\ncontent-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`,
  );
  assert.throws(() => rawResponse({ status: 400, headers: { 'x-a': 'b\r\nx-c: d' }, json: '{}' }));
});
