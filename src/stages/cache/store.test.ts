import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryCacheStore, type CachedAnswer } from './store.js';

const answer = (version: string): CachedAnswer => ({
  response: { model_name: 'm', outputs: [{ name: 'score', datatype: 'FP32', shape: [1, 1], data: [0.5] }] },
  variant: 'v1',
  version,
  storedAt: 0,
});

test('memory cache: LRU bound, recency on read, TTL', async () => {
  let now = 0;
  const store = new MemoryCacheStore(2, () => now);
  store.set('a', answer('a'), 100);
  store.set('b', answer('b'), 100);
  assert.equal((await store.get('a'))?.version, 'a'); // a is now the most recent
  store.set('c', answer('c'), 100); // evicts b
  assert.equal(await store.get('b'), undefined);
  assert.equal((await store.get('a'))?.version, 'a');
  assert.equal((await store.get('c'))?.version, 'c');
  assert.equal(store.size, 2);
  now = 100;
  assert.equal(await store.get('a'), undefined, 'expired');
  assert.equal(store.size, 1);
});
