import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status as Status } from '@grpc/grpc-js';
import { decodeStatusDetails, STATUS_DETAILS_TRAILER } from '../shared/grpc/status.js';
import { grpcFailure } from './status.js';

test('a retryable refusal with a retry-after carries a Status with its RetryInfo; others do not', () => {
  const limited = grpcFailure(429, 'rate limit exceeded', {
    'retry-after': '3',
    'x-switchyard-error-code': 'SWY_ERR_RATELIMIT_EXCEEDED',
    'RateLimit-Remaining': '0',
  });
  assert.equal(limited.code, Status.RESOURCE_EXHAUSTED);
  assert.equal(limited.details, 'rate limit exceeded');
  assert.deepEqual(limited.metadata!.get('ratelimit-remaining'), ['0']);
  const bytes = limited.metadata!.get(STATUS_DETAILS_TRAILER)[0] as Buffer;
  const { status, retryDelayMs } = decodeStatusDetails(bytes);
  assert.deepEqual(
    [status.code, status.message, retryDelayMs],
    [Status.RESOURCE_EXHAUSTED, 'rate limit exceeded', 3000],
  );

  const shed = grpcFailure(503, 'shed', { 'retry-after': '1' });
  assert.equal(shed.code, Status.UNAVAILABLE);
  assert.equal(
    decodeStatusDetails(shed.metadata!.get(STATUS_DETAILS_TRAILER)[0] as Buffer).retryDelayMs,
    1000,
  );

  // No delay known, or a code a retry does not help: no details.
  assert.deepEqual(grpcFailure(503, 'draining', {}).metadata!.get(STATUS_DETAILS_TRAILER), []);
  assert.deepEqual(grpcFailure(400, 'bad', { 'retry-after': '1' }).metadata!.get(STATUS_DETAILS_TRAILER), []);
});
