// The cache with `store: redis`, driven as a client would: two gateway instances share what one
// stored (and a purge on one reaches the other), a store of its own `url` or the top-level store's,
// and an outage of a redis-server of this test alone: requests are served from the service, the
// failure is counted, and caching resumes once Redis is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';
import { waitFor } from './helpers/child.js';
import { SHARED_REDIS, deleteUnder, inspector, privateRedis, sharedRedisUp, uniquePrefix, type PrivateRedis } from './helpers/redis.js';

const up = await sharedRedisUp();
const skip = up ? false : 'no Redis at 127.0.0.1:6379';
const prefix = uniquePrefix('cache-policy');

let origin: Upstream;
let a: TestGateway;
let b: TestGateway;
let lonely: TestGateway;
let own: PrivateRedis;
const counts = new Map<string, number>();

function config(redisUrl: string, store: Record<string, unknown>) {
  return {
    metrics: { enabled: true },
    admin: { port: 0, host: '127.0.0.1' },
    store: { type: 'redis', url: SHARED_REDIS, prefix: `${prefix}rl:` },
    services: { origin: { targets: [{ url: origin.url }] } },
    routes: [
      {
        name: 'cached',
        match: { paths: ['/*'] },
        service: 'origin',
        policies: [{ type: 'cache', store: 'redis', ...store, url: redisUrl }],
      },
    ],
  };
}

before(async () => {
  if (!up) return;
  origin = await startUpstream((req, res) => {
    const p = req.url!;
    counts.set(p, (counts.get(p) ?? 0) + 1);
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream', 'surrogate-key': 'shared' });
    // Bytes of every value, so that the store's binary encoding is exercised end to end.
    res.end(Buffer.concat([Buffer.from(`${p} #${counts.get(p)!}:`), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]));
  });
  a = await startTestGateway(config(SHARED_REDIS, { prefix: `${prefix}c:` }));
  b = await startTestGateway(config(SHARED_REDIS, { prefix: `${prefix}c:` }));
  own = await privateRedis();
  lonely = await startTestGateway(config(own.url, { timeout: '100ms' }));
});

after(async () => {
  await maybeUnset(a)?.stop();
  await maybeUnset(b)?.stop();
  await maybeUnset(lonely)?.stop();
  await maybeUnset(own)?.stop();
  await maybeUnset(origin)?.close();
  if (up) {
    const r = inspector();
    await deleteUnder(r, prefix);
    r.disconnect();
  }
});

async function get(gw: TestGateway, path: string) {
  const r = await request(gw.url + path);
  return { status: r.statusCode, body: Buffer.from(await r.body.arrayBuffer()), cacheStatus: String(r.headers['cache-status']) };
}

test('two instances share one Redis store: what one stored, the other serves; a purge on one reaches both', { skip }, async () => {
  const first = await get(a, '/shared');
  assert.match(first.cacheStatus, /stored/);
  await waitFor('the entry in Redis', async () => (await get(b, '/shared')).cacheStatus.includes('hit'));
  const fromB = await get(b, '/shared');
  assert.ok(fromB.body.equals(first.body), 'the same bytes, binary included');
  assert.equal(counts.get('/shared'), 1);
  const purge = await request(`${b.adminUrl}/cache?tag=shared`, { method: 'DELETE' });
  assert.equal(((await purge.body.json()) as { deleted: number }).deleted, 1);
  assert.match((await get(a, '/shared')).cacheStatus, /miss/);
});

test('an outage of the store: served from the service, counted, and cached again once Redis is back', { skip }, async () => {
  await get(lonely, '/x');
  await waitFor('a hit', async () => (await get(lonely, '/x')).cacheStatus.includes('hit'));
  await own.stop();
  const before = counts.get('/x')!;
  for (let i = 0; i < 3; i++) {
    const r = await get(lonely, '/x');
    assert.equal(r.status, 200);
    assert.doesNotMatch(r.cacheStatus, /hit/);
  }
  assert.equal(counts.get('/x'), before + 3, 'every request went to the service');
  const metrics = await (await request(`${lonely.adminUrl}/metrics`)).body.text();
  assert.match(metrics, /gatehouse_cache_store_errors_total\{route="cached"\} [1-9]/);
  // Like a rate-limit store: down in the store gauge and in GET /ready, which stays 200.
  const label = `redis://127.0.0.1:${own.port}`;
  assert.ok(metrics.includes(`gatehouse_store_up{store="${label}"} 0`), 'the cache store is down in gatehouse_store_up');
  const ready = await request(`${lonely.adminUrl}/ready`);
  assert.equal(ready.statusCode, 200);
  const stores = ((await ready.body.json()) as { stores?: { store: string; state: string }[] }).stores ?? [];
  assert.equal(stores.find((x) => x.store === label)?.state, 'down');
  await own.start();
  await waitFor('caching again', async () => (await get(lonely, '/x')).cacheStatus.includes('hit'), 15_000, 200);
  const after = await (await request(`${lonely.adminUrl}/metrics`)).body.text();
  assert.ok(after.includes(`gatehouse_store_up{store="${label}"} 1`), 'up again');
});
