import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeLabel } from './registry.js';

test('a store label names host, port and database, never a credential', () => {
  assert.equal(storeLabel({ url: 'redis://127.0.0.1:6379' }), 'redis://127.0.0.1:6379');
  assert.equal(storeLabel({ url: 'redis://:s3cret@cache.internal:6380/2' }), 'redis://cache.internal:6380/2');
  assert.equal(storeLabel({ url: 'rediss://user:p%40ss@cache.internal' }), 'rediss://cache.internal');
  // Malformed passwords (unencoded # / @ ?) must not leak a piece of themselves as the "host".
  for (const url of [
    'redis://:p@ss#word@host:6379',
    'redis://:pa/ss@host',
    'redis://host:6379/0?password=x@y',
    'redis://:a#b@host',
    'not a url',
    'redis://admin:2024?Winter@cache:6379',
    'redis://admin:x/y?z@cache',
    'redis:///tmp/redis.sock',
  ]) {
    assert.equal(storeLabel({ url }), 'redis', url);
  }
  assert.equal(storeLabel({ url: undefined }), 'redis');
});
