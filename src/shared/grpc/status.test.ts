import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeStatusDetails, encodeStatusDetails, RETRY_INFO_TYPE_URL } from './status.js';

test("google.rpc.Status and RetryInfo on the wire: the field numbers of Google's definitions", () => {
  const bytes = encodeStatusDetails(8, 'slow down', 2500);
  // Status: code (1, varint) 8; message (2, bytes) "slow down"; details (3, bytes) one Any.
  const any = Buffer.concat([
    // Any: type_url (1), value (2) = RetryInfo: retry_delay (1) = Duration: seconds (1) 2, nanos (2) 5e8.
    Buffer.from([0x0a, RETRY_INFO_TYPE_URL.length]),
    Buffer.from(RETRY_INFO_TYPE_URL),
    Buffer.from([0x12, 0x0a, 0x0a, 0x08, 0x08, 0x02, 0x10, 0x80, 0xca, 0xb5, 0xee, 0x01]),
  ]);
  const expected = Buffer.concat([
    Buffer.from([0x08, 0x08, 0x12, 'slow down'.length]),
    Buffer.from('slow down'),
    Buffer.from([0x1a, any.length]),
    any,
  ]);
  assert.equal(bytes.toString('hex'), expected.toString('hex'));
  const { status, retryDelayMs } = decodeStatusDetails(bytes);
  assert.deepEqual([status.code, status.message, retryDelayMs], [8, 'slow down', 2500]);
});

test('without a delay the Status carries no details', () => {
  const { status, retryDelayMs } = decodeStatusDetails(encodeStatusDetails(14, 'unavailable'));
  assert.deepEqual(
    [status.code, status.message, status.details, retryDelayMs],
    [14, 'unavailable', [], undefined],
  );
});
