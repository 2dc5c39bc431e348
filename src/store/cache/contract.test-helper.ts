// What every cache store must do, whatever keeps the entries: one suite, run by memory.test.ts and
// redis.test.ts against their store. The policy relies on exactly this, and on nothing else.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CacheEntry, CacheStore } from './types.js';

export interface ContractOptions {
  /** A reason to skip the whole suite (a Redis that is not there). */
  skip?: string | false;
}

/** `make` gives a new, empty store each call; the suite closes every one it made. */
export type MakeStore = (opts: { maxVariants?: number }) => Promise<CacheStore> | CacheStore;

const BINARY = Buffer.from([0x00, 0xff, 0x01, 0xfe, 0x0d, 0x0a, 0x00, 0x7f, 0x80, 0xff]);

export function entry(over: Partial<CacheEntry> = {}, body: Buffer = BINARY): CacheEntry {
  return {
    response: { status: 200, headers: ['content-type', 'application/octet-stream', 'etag', '"v1"'], body },
    requestTime: 1_700_000_000_000,
    responseTime: 1_700_000_000_250,
    vary: [],
    varyValues: [],
    tags: [],
    ...over,
  };
}

/** A variant of a response that varies on Accept-Encoding and Accept-Language. */
function variant(encoding: string | null, language: string | null, status = 200): CacheEntry {
  const e = entry({ vary: ['accept-encoding', 'accept-language'], varyValues: [encoding, language] });
  e.response.status = status;
  return e;
}

const LONG = 60_000;

export function cacheStoreContract(name: string, make: MakeStore, opts: ContractOptions = {}): void {
  describe(`cache store contract: ${name}`, { skip: opts.skip }, () => {
    const made: CacheStore[] = [];
    const store = async (o: { maxVariants?: number } = {}) => {
      const s = await make(o);
      made.push(s);
      return s;
    };
    after(async () => {
      for (const s of made) await s.close();
    });

    test('an absent key has no variants', async () => {
      const s = await store();
      assert.deepEqual(await s.get('GET a.example/nothing'), []);
    });

    test('a put comes back whole: status, fields, binary body, trailers, vary, tags, times', async () => {
      const s = await store();
      const full = entry({
        vary: ['accept-encoding', 'x-tenant'],
        varyValues: ['gzip', null],
        tags: ['product-1', 'all products'],
      });
      full.response.status = 203;
      full.response.headers.push('x-weird', 'a\u00e9b', 'set-twice', '1', 'set-twice', '2');
      full.response.trailers = ['grpc-status', '0', 'x-checksum', 'abc'];
      await s.put('GET a.example/full', full, LONG);
      assert.deepEqual(await s.get('GET a.example/full'), [full]);

      const empty = entry({}, Buffer.alloc(0));
      await s.put('GET a.example/empty', empty, LONG);
      const [got] = await s.get('GET a.example/empty');
      assert.equal(got!.response.body.length, 0);
      assert.equal(got!.response.trailers, undefined, 'no trailers stay no trailers');
      assert.deepEqual(got, empty);
    });

    test('what is stored is a copy: the caller changing its entry afterwards changes nothing', async () => {
      const s = await store();
      const e = entry({ tags: ['t'] }, Buffer.from('original'));
      await s.put('GET a.example/copy', e, LONG);
      e.response.body.write('CHANGED!');
      e.response.headers.push('x-late', '1');
      e.tags.push('late');
      const [got] = await s.get('GET a.example/copy');
      assert.equal(got!.response.body.toString(), 'original');
      assert.deepEqual(got!.response.headers, entry().response.headers);
      assert.deepEqual(got!.tags, ['t']);
    });

    test('variants: other Vary values are kept beside, the same ones replace; newest first', async () => {
      const s = await store();
      const key = 'GET a.example/varied';
      await s.put(key, variant('gzip', 'en'), LONG);
      await s.put(key, variant('br', 'en'), LONG);
      await s.put(key, variant('gzip', null), LONG);
      let got = await s.get(key);
      assert.deepEqual(
        got.map((e) => e.varyValues),
        [
          ['gzip', null],
          ['br', 'en'],
          ['gzip', 'en'],
        ],
      );
      await s.put(key, variant('gzip', 'en', 299), LONG);
      got = await s.get(key);
      assert.equal(got.length, 3, 'the same Vary values replace the variant, not add one');
      assert.deepEqual(got[0]!.varyValues, ['gzip', 'en']);
      assert.equal(got[0]!.response.status, 299);
      // Other Vary names are another variant, even with the same values.
      await s.put(key, entry({ vary: ['accept-encoding'], varyValues: ['gzip'] }), LONG);
      assert.equal((await s.get(key)).length, 4);
    });

    test('at most maxVariants per key: the newest win', async () => {
      const s = await store({ maxVariants: 3 });
      const key = 'GET a.example/many';
      for (let i = 0; i < 6; i++) await s.put(key, variant(`enc${i}`, null), LONG);
      assert.deepEqual(
        (await s.get(key)).map((e) => e.varyValues[0]),
        ['enc5', 'enc4', 'enc3'],
      );
    });

    test('delete forgets a key and all its variants, and says whether it was there', async () => {
      const s = await store();
      await s.put('GET a.example/d', variant('gzip', null), LONG);
      await s.put('GET a.example/d', variant('br', null), LONG);
      await s.put('GET a.example/keep', entry(), LONG);
      assert.equal(await s.delete('GET a.example/d'), 1);
      assert.equal(await s.delete('GET a.example/d'), 0);
      assert.deepEqual(await s.get('GET a.example/d'), []);
      assert.equal((await s.get('GET a.example/keep')).length, 1);
    });

    test('deletePrefix forgets the keys starting with the prefix, glob characters taken literally', async () => {
      const s = await store();
      const keys = [
        'GET a.example/users/1',
        'GET a.example/users/2?x=1',
        'GET a.example/usersX',
        'GET a.example/other',
        'GET b.example/users/1',
        'GET g.example/*[ab]?\\/1',
        'GET g.example/*[ab]?\\/2',
        'GET g.example/xa',
        'GET g.example/*a',
        'GET g.example/*[a',
      ];
      for (const k of keys) await s.put(k, entry(), LONG);
      assert.equal(await s.deletePrefix('GET a.example/users/'), 2);
      assert.equal(await s.deletePrefix('GET g.example/*[ab]?\\'), 2);
      assert.equal(await s.deletePrefix('GET g.example/?'), 0, '? matches only a "?"');
      assert.equal(await s.deletePrefix('GET g.example/*[a'), 1, '[ opens no character class');
      assert.equal(await s.deletePrefix('GET a.example/users/'), 0);
      const left: string[] = [];
      for (const k of keys) if ((await s.get(k)).length > 0) left.push(k);
      assert.deepEqual(left, [
        'GET a.example/usersX',
        'GET a.example/other',
        'GET b.example/users/1',
        'GET g.example/xa',
        'GET g.example/*a',
      ]);
    });

    test('deleteTag forgets every key one of whose variants carries the tag', async () => {
      const s = await store();
      await s.put('GET a.example/p/1', entry({ tags: ['product', 'p1'] }), LONG);
      await s.put('GET a.example/p/2', variant('gzip', null), LONG);
      await s.put('GET a.example/p/2', { ...variant('br', null), tags: ['product', 'p2'] }, LONG);
      await s.put('GET a.example/p/3', entry({ tags: ['p3'] }), LONG);
      await s.put('GET a.example/untagged', entry(), LONG);
      assert.equal(await s.deleteTag('product'), 2);
      assert.equal(await s.deleteTag('product'), 0);
      assert.equal(await s.deleteTag('never used'), 0);
      assert.deepEqual(await s.get('GET a.example/p/1'), []);
      assert.deepEqual(await s.get('GET a.example/p/2'), [], 'all the variants of the key went');
      assert.equal((await s.get('GET a.example/p/3')).length, 1);
      assert.equal((await s.get('GET a.example/untagged')).length, 1);
      assert.equal(await s.deleteTag('p1'), 0, 'a deleted key no longer counts for its other tags');
    });

    test('a tag the replacing variant no longer carries does not reach the key', async () => {
      const s = await store();
      await s.put('GET a.example/retag', entry({ tags: ['old'] }), LONG);
      await s.put('GET a.example/retag', entry({ tags: ['new'] }), LONG);
      assert.equal(await s.deleteTag('old'), 0);
      assert.equal((await s.get('GET a.example/retag')).length, 1);
      assert.equal(await s.deleteTag('new'), 1);
    });

    test('an entry is not returned after its ttl, each variant after its own', async () => {
      const s = await store();
      await s.put('GET a.example/short', entry(), 60);
      await s.put('GET a.example/mixed', variant('gzip', null), 60);
      await s.put('GET a.example/mixed', variant('br', null), LONG);
      assert.equal((await s.get('GET a.example/short')).length, 1);
      assert.equal((await s.get('GET a.example/mixed')).length, 2);
      await sleep(150);
      assert.deepEqual(await s.get('GET a.example/short'), []);
      assert.deepEqual(
        (await s.get('GET a.example/mixed')).map((e) => e.varyValues[0]),
        ['br'],
      );
      // A later put of the key does not bring the expired variant back.
      await s.put('GET a.example/mixed', variant('zstd', null), LONG);
      assert.deepEqual(
        (await s.get('GET a.example/mixed')).map((e) => e.varyValues[0]),
        ['zstd', 'br'],
      );
    });

    test('stats name the store', async () => {
      const s = await store();
      const st = await s.stats();
      assert.equal(st.type, name);
      assert.equal(typeof st.store, 'string');
      assert.equal(st.evictions, 0);
    });
  });
}
