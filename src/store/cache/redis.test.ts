// The Redis cache store against a real Redis: the shared contract on 127.0.0.1:6379 (a prefix of
// its own per run, removed after), its key layout, values it did not write, and an outage of a
// redis-server this test starts and kills.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { RedisCacheStore, escapeGlob, tagKeyName, valueKeyName } from './redis.js';
import { encodeVariants } from './codec.js';
import { cacheStoreContract, entry } from './contract.test-helper.js';
import { StoreUnavailableError } from '../types.js';
import {
  SHARED_REDIS,
  delayProxy,
  deleteUnder,
  inspector,
  privateRedis,
  sharedRedisUp,
  uniquePrefix,
} from '../../../test/helpers/redis.js';

const up = await sharedRedisUp();
const skip = up ? false : 'no Redis at 127.0.0.1:6379';
const runPrefix = uniquePrefix('cache-store');
let stores = 0;

let r: Redis | undefined;
after(async () => {
  if (r !== undefined) {
    await deleteUnder(r, runPrefix);
    r.disconnect();
  }
});
if (up) r = inspector();

cacheStoreContract(
  'redis',
  async (o) => {
    const s = new RedisCacheStore({ url: SHARED_REDIS, prefix: `${runPrefix}${stores++}:`, timeoutMs: 1000, maxVariants: o.maxVariants });
    await s.ready();
    return s;
  },
  { skip },
);

describe('redis cache store', { skip }, () => {
  let s: RedisCacheStore;
  const prefix = `${runPrefix}own:`;
  before(async () => {
    s = new RedisCacheStore({ url: SHARED_REDIS, prefix, timeoutMs: 1000, name: 'redis://127.0.0.1:6379' });
    await s.ready();
  });
  after(() => s.close());

  test('one binary value per key, raw bodies, PX the longest variant; tag sets outlive their entries', async () => {
    const body = Buffer.alloc(3000, 0xab);
    await s.put('GET a/x', entry({ tags: ['t'] }, body), 5_000);
    await s.put('GET a/x', entry({ vary: ['accept'], varyValues: ['a'], tags: ['u'] }), 20_000);
    const raw = (await r!.getBuffer(valueKeyName(prefix, `GET a/x`)))!;
    assert.ok(raw.includes(body), 'the body is stored as its bytes');
    assert.ok(raw.length < 3000 + 1000, `compact: ${raw.length} bytes`);
    const pttl = await r!.pttl(valueKeyName(prefix, `GET a/x`));
    assert.ok(pttl > 15_000 && pttl <= 20_000, String(pttl));
    assert.deepEqual(await r!.smembers(tagKeyName(prefix, 'GET a/x', `t`)), ['GET a/x']);
    assert.ok((await r!.pttl(tagKeyName(prefix, 'GET a/x', `t`))) >= 4_000);
    assert.ok((await r!.pttl(tagKeyName(prefix, 'GET a/x', `u`))) >= pttl - 100);
    assert.deepEqual(await s.stats(), { type: 'redis', store: 'redis://127.0.0.1:6379', entries: -1, bytes: -1, evictions: 0 });
  });

  test('a value it cannot decode is a miss, and is deleted', async () => {
    const good = encodeVariants([{ entry: entry(), expiresAt: Date.now() + 60_000 }]);
    const bad = [
      Buffer.from('not ours'),
      good.subarray(0, good.length - 1), // truncated body
      Buffer.concat([good, Buffer.from([0])]), // trailing bytes
      Buffer.concat([good.subarray(0, 4), Buffer.from([0xff, 0xff, 0xff, 0xff])]), // a huge metadata length
      encodeVariants([{ entry: { ...entry(), vary: ['a'], varyValues: [] }, expiresAt: 1 }]),
    ];
    for (const [i, v] of bad.entries()) {
      await r!.set(valueKeyName(prefix, `bad${i}`), v);
      assert.deepEqual(await s.get(`bad${i}`), [], `value ${i}`);
    }
    await sleep(50);
    for (let i = 0; i < bad.length; i++) assert.equal(await r!.exists(valueKeyName(prefix, `bad${i}`)), 0);
    // A put over such a value replaces it.
    await r!.set(valueKeyName(prefix, `bad0`), 'garbage');
    await s.put('bad0', entry(), 60_000);
    assert.equal((await s.get('bad0')).length, 1);
  });

  test('concurrent puts of different variants of one key all land, from one process or two', async () => {
    await Promise.all(Array.from({ length: 8 }, (_, i) => s.put('GET a/race', entry({ vary: ['v'], varyValues: [String(i)] }), 60_000)));
    assert.equal((await s.get('GET a/race')).length, 8);
    // Another instance: its put and ours read the same value, one script fails and redoes its merge.
    const other = new RedisCacheStore({ url: SHARED_REDIS, prefix, timeoutMs: 1000 });
    await other.ready();
    for (let i = 0; i < 5; i++) {
      const key = `GET a/race2/${i}`;
      await Promise.all([
        s.put(key, entry({ vary: ['v'], varyValues: ['ours'] }), 60_000),
        other.put(key, entry({ vary: ['v'], varyValues: ['theirs'] }), 60_000),
      ]);
      assert.equal((await s.get(key)).length, 2, key);
    }
    await other.close();
  });

  test('glob characters are escaped', () => {
    assert.equal(escapeGlob('a*b?c[d]e\\f'), 'a\\*b\\?c\\[d\\]e\\\\f');
  });

  test('with the breaker open every method rejects at once', async () => {
    const b = new RedisCacheStore({ url: SHARED_REDIS, prefix, timeoutMs: 1000 });
    await b.ready();
    for (let i = 0; i < 20; i++) b.breaker.failure();
    assert.equal(b.breaker.state, 'open');
    const t0 = Date.now();
    for (const call of [
      () => b.get('k'),
      () => b.put('k', entry(), 1000),
      () => b.delete('k'),
      () => b.deletePrefix('k'),
      () => b.deleteTag('k'),
    ])
      await assert.rejects(call(), (err: Error) => err instanceof StoreUnavailableError && /breaker/.test(err.message));
    assert.ok(Date.now() - t0 < 50);
    assert.equal(b.status().failedDecisions, 5);
    await b.close();
  });
});

// Needs no shared Redis: it starts its own.
test('redis cache store: an outage rejects every call within the timeout, and the store recovers', async () => {
  const own = await privateRedis();
  const s = new RedisCacheStore({ url: own.url, prefix: 'outage:', timeoutMs: 300, connect: true });
  try {
    await s.ready();
    await s.put('k', entry(), 60_000);
    assert.equal((await s.get('k')).length, 1);
    await own.stop();
    for (const call of [() => s.get('k'), () => s.put('k', entry(), 60_000), () => s.deletePrefix('k'), () => s.deleteTag('t')]) {
      const t0 = Date.now();
      await assert.rejects(call(), StoreUnavailableError);
      assert.ok(Date.now() - t0 < 1000, `rejected after ${Date.now() - t0} ms`);
    }
    assert.equal(s.status().state, 'down');
    await own.start();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await s.put('k2', entry(), 60_000);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
    assert.equal((await s.get('k2')).length, 1);
    assert.equal(s.status().state, 'up');
  } finally {
    await s.close();
    await own.stop();
  }
});

test('redis cache store: a Redis that does not answer in time is a rejection at the timeout', async () => {
  const own = await privateRedis();
  const slow = await delayProxy(own.port, 0);
  const s = new RedisCacheStore({ url: slow.url, prefix: 'slow:', timeoutMs: 200 });
  try {
    await s.ready();
    await s.put('k', entry(), 60_000);
    slow.delayMs = 3000;
    for (const call of [() => s.get('k'), () => s.put('k', entry(), 60_000), () => s.delete('k')]) {
      const t0 = Date.now();
      await assert.rejects(call(), /timed out/);
      const took = Date.now() - t0;
      assert.ok(took >= 150 && took < 1000, `rejected after ${took} ms`);
    }
    assert.equal(s.status().state, 'down');
  } finally {
    await s.close();
    await slow.close();
    await own.stop();
  }
});
