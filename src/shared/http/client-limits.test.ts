import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestTimeoutOptions } from './client-limits.js';

test("the head's timeout is at most the request's, and checked often enough to fire within 10%", () => {
  assert.deepEqual(requestTimeoutOptions({ headerTimeoutMs: 10_000, requestTimeoutMs: 30_000 }), {
    headersTimeout: 10_000,
    requestTimeout: 30_000,
    connectionsCheckingInterval: 1_000,
  });
  assert.deepEqual(requestTimeoutOptions({ headerTimeoutMs: 1_000, requestTimeoutMs: 500 }), {
    headersTimeout: 500,
    requestTimeout: 500,
    connectionsCheckingInterval: 50,
  });
  assert.equal(
    requestTimeoutOptions({ headerTimeoutMs: 60_000, requestTimeoutMs: 300_000 }).connectionsCheckingInterval,
    1_000,
    'at most a second',
  );
  assert.equal(
    requestTimeoutOptions({ headerTimeoutMs: 5, requestTimeoutMs: 300_000 }).connectionsCheckingInterval,
    10,
  );
});
