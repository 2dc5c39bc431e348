// The cache stores of a data plane: one per distinct spec, a Redis one labelled without its
// credentials, all closed together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CacheStoreRegistry } from './registry.js';
import { MemoryCacheStore } from './memory.js';
import { RedisCacheStore } from './redis.js';

test('one store per distinct spec; a Redis store is labelled without credentials', async () => {
  const reg = new CacheStoreRegistry(); // not live: a Redis store connects on first use, not here
  const m1 = reg.get({ type: 'memory', maxBytes: 1000 });
  assert.ok(m1 instanceof MemoryCacheStore);
  assert.equal(reg.get({ type: 'memory', maxBytes: 1000, maxVariants: 16 }), m1, 'maxVariants 16 is the default');
  assert.notEqual(reg.get({ type: 'memory', maxBytes: 2000 }), m1);
  const spec = { type: 'redis' as const, url: 'redis://user:s3cret@127.0.0.1:1/2', prefix: 'gh:c:', timeoutMs: 50 };
  const r1 = reg.get(spec);
  assert.ok(r1 instanceof RedisCacheStore);
  assert.equal(reg.get({ timeoutMs: 50, prefix: 'gh:c:', url: spec.url, type: 'redis' }), r1, 'field order does not matter');
  assert.notEqual(reg.get({ ...spec, prefix: 'gh:d:' }), r1);
  const st = await r1.stats();
  assert.equal(st.store, 'redis://127.0.0.1:1/2');
  assert.ok(!JSON.stringify(st).includes('s3cret'));
  assert.equal(r1.status().store, 'redis://127.0.0.1:1/2');
  assert.equal(reg.all().length, 4);
  assert.equal(reg.health().length, 2);
  await reg.close();
  assert.equal(reg.all().length, 0);
  await assert.rejects(r1.get('k'), /closed/);
});
