// The memory cache store: the shared contract, and its byte bound (least recently used go first,
// counted as evictions; expiry and deletes are not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENTRY_OVERHEAD, MemoryCacheStore } from './memory.js';
import { cacheStoreContract, entry } from './contract.test-helper.js';

cacheStoreContract('memory', (o) => new MemoryCacheStore({ maxBytes: 16 * 1024 * 1024, maxVariants: o.maxVariants }));

/** An entry of about 1000 bytes in all, tagged with its own name. */
const sized = (tag: string) => entry({ tags: [tag] }, Buffer.alloc(1000 - ENTRY_OVERHEAD - 100, 0xff));

test('memory: the byte bound evicts the least recently used key and counts it', async () => {
  const s = new MemoryCacheStore({ maxBytes: 3500 });
  await s.put('GET a/1', sized('t1'), 60_000);
  await s.put('GET a/2', sized('t2'), 60_000);
  await s.put('GET a/3', sized('t3'), 60_000);
  assert.equal((await s.get('GET a/1')).length, 1); // 1 is now more recent than 2
  await s.put('GET a/4', sized('t4'), 60_000);
  assert.deepEqual(await s.get('GET a/2'), [], 'the least recently used went');
  for (const k of ['GET a/1', 'GET a/3', 'GET a/4']) assert.equal((await s.get(k)).length, 1, k);
  let st = await s.stats();
  assert.equal(st.evictions, 1);
  assert.equal(st.entries, 3);
  assert.ok(st.bytes <= 3500 && st.bytes > 2500, String(st.bytes));
  assert.equal(await s.deleteTag('t2'), 0, 'an evicted key left the tag index');

  // Neither a delete nor an expiry is an eviction.
  await s.delete('GET a/1');
  await s.put('GET a/short', entry(), 20);
  await sleep(60);
  assert.deepEqual(await s.get('GET a/short'), []);
  st = await s.stats();
  assert.equal(st.evictions, 1);
  assert.equal(st.entries, 2);
  await s.close();
});

test('memory: an entry larger than the whole store is not kept, and does not empty it', async () => {
  const s = new MemoryCacheStore({ maxBytes: 3000 });
  await s.put('GET a/small', entry({ tags: ['small'] }), 60_000);
  await s.put('GET a/huge', entry({ tags: ['huge'] }, Buffer.alloc(5000)), 60_000);
  assert.deepEqual(await s.get('GET a/huge'), []);
  assert.equal((await s.get('GET a/small')).length, 1);
  assert.equal(await s.deleteTag('huge'), 0);
  assert.equal((await s.stats()).evictions, 0);
  await s.close();
});

test('memory: the bytes count bodies, fields and an overhead per variant', async () => {
  const s = new MemoryCacheStore({ maxBytes: 1_000_000 });
  const e = entry({ tags: ['tag'] }, Buffer.alloc(500));
  await s.put('k', e, 60_000);
  const fields = e.response.headers.reduce((n, h) => n + h.length, 0) + 'tag'.length;
  assert.equal((await s.stats()).bytes, 'k'.length + ENTRY_OVERHEAD + 500 + fields);
  await s.close();
});

test('memory: what get returns is read-only', async () => {
  const s = new MemoryCacheStore({ maxBytes: 1_000_000 });
  await s.put('k', entry(), 60_000);
  const [got] = await s.get('k');
  assert.throws(() => got!.response.headers.push('x', 'y'), TypeError);
  assert.throws(() => {
    (got as { requestTime: number }).requestTime = 0;
  }, TypeError);
  await s.close();
});

test('memory: deleting a URI prefix (every successful unsafe request does) does not scan the whole store', async () => {
  const s = new MemoryCacheStore({ maxBytes: 512 * 1024 * 1024 });
  const e = entry();
  for (let i = 0; i < 100_000; i++) await s.put(`GET h/item/${i}?#`, e, 60_000);
  await s.put('GET h/item/7?#consumer=a;', e, 60_000);
  await s.put('GET h/item/7?x=1#', e, 60_000);
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) await s.deletePrefix(`GET h/absent/${i}?#`);
  const ms = performance.now() - t0;
  assert.ok(ms < 250, `500 invalidations of absent URIs took ${ms.toFixed(0)} ms`);
  assert.equal(await s.deletePrefix('GET h/item/7?#'), 2, 'every key part of the URI, not another query');
  assert.equal((await s.get('GET h/item/7?x=1#')).length, 1);
  assert.equal(await s.deletePrefix('GET h/item/9'), 11111, 'a prefix without # still reaches every key it starts');
  await s.delete('GET h/item/1?#');
  assert.equal(await s.deletePrefix('GET h/item/1?#'), 0, 'a deleted key left the index');
  await s.close();
});
