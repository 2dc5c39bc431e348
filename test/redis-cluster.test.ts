// The Redis stores on a 3-master Redis Cluster of this file's own (loopback ports): the cache
// store's contract, keys spread over every master and purged from every master, and two gateway
// instances sharing the cluster — a rate limit exact across both, the response cache, analytics.
// A multi-key command across slots would fail here with CROSSSLOT (and a pipeline across nodes
// would be refused by ioredis): every test below would see it.
import { test, after, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { RedisCacheStore } from '../src/store/cache/redis.js';
import { RedisStore } from '../src/store/redis.js';
import { RedisAnalytics } from '../src/observability/analytics/redis-store.js';
import type { AnalyticsSample } from '../src/observability/analytics/entry.js';
import { cacheStoreContract, entry } from '../src/store/cache/contract.test-helper.js';
import { ask, redisToolsHere, startCluster, type TestCluster } from './helpers/redis-cluster.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { sleep, waitFor } from './helpers/child.js';
import { uniquePrefix } from './helpers/redis.js';

const cluster: TestCluster | undefined = redisToolsHere() ? await startCluster() : undefined;
const skip = cluster ? false : 'no redis-server / redis-cli for a Redis Cluster';
const url = cluster?.url ?? '';
const closing: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closing.reverse()) await c();
  await cluster?.stop();
});

/** How many keys matching `pattern` each master holds. */
async function perMaster(pattern: string): Promise<number[]> {
  return Promise.all(
    cluster!.ports.map(async (port) => {
      let n = 0;
      let cursor = '0';
      do {
        const [next, keys] = (await ask(port, 'SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000')) as [string, string[]];
        cursor = next;
        n += keys.length;
      } while (cursor !== '0');
      return n;
    }),
  );
}

let stores = 0;
// Named 'redis': the contract checks that stats() names the store's type.
cacheStoreContract(
  'redis',
  async (o) => {
    const s = new RedisCacheStore({ url, prefix: `gh-test:cc${stores++}:`, timeoutMs: 2000, maxVariants: o.maxVariants });
    closing.push(() => s.close());
    await s.ready();
    return s;
  },
  { skip },
);

test('cache store: entries spread over every master; deletePrefix and deleteTag reach them all', { skip }, async () => {
  const s = new RedisCacheStore({ url, prefix: 'gh-test:spread:', timeoutMs: 2000 });
  closing.push(() => s.close());
  await s.ready();
  for (let i = 0; i < 90; i++) await s.put(`GET /p/${i}`, entry({ tags: [i % 3 === 0 ? 'three' : 'other'] }), 60_000);
  const spread = await perMaster('gh-test:spread:*k:*');
  assert.equal(
    spread.reduce((a, b) => a + b),
    90,
  );
  assert.ok(
    spread.every((n) => n > 0),
    `every master holds entries: ${spread.join(', ')}`,
  );
  assert.equal(await s.deleteTag('three'), 30);
  assert.equal((await s.get('GET /p/3')).length, 0);
  assert.equal((await s.get('GET /p/4')).length, 1);
  assert.equal(await s.deletePrefix('GET /p/1'), 8); // 1, 10, 11, 13, 14, 16, 17, 19 (12, 15, 18 went with "three")
  assert.equal(await s.deletePrefix('GET /'), 90 - 30 - 8);
  assert.deepEqual(await perMaster('gh-test:spread:*k:*'), [0, 0, 0]);
});

test('rate-limit store: counters on every master, one decision each', { skip }, async () => {
  const s = new RedisStore({ url, prefix: 'gh-test:rl-spread:', timeoutMs: 2000, connect: true });
  closing.push(() => s.close());
  await s.ready();
  for (let i = 0; i < 30; i++) {
    assert.equal((await s.fixedWindow(`k${i}`, 1, 60_000, 1)).allowed, true);
    assert.equal((await s.slidingWindow(`s${i}`, 1, 60_000, 1)).allowed, true);
    assert.equal((await s.tokenBucket(`t${i}`, 1, 60_000, 1, 1)).allowed, true);
    assert.equal((await s.leakyBucket(`l${i}`, 1, 60_000, 1, 1)).allowed, true);
    assert.equal((await s.calendarMonth(`m${i}`, 1, 1)).allowed, true);
    assert.equal((await s.fixedWindow(`k${i}`, 1, 60_000, 1)).allowed, false);
  }
  const spread = await perMaster('gh-test:rl-spread:*');
  assert.equal(
    spread.reduce((a, b) => a + b),
    150,
  );
  assert.ok(
    spread.every((n) => n > 0),
    `every master holds counters: ${spread.join(', ')}`,
  );
});

test('analytics: two writers, a minute written and read back in one slot', { skip }, async () => {
  const a = RedisAnalytics.connect(url, 'gh-test:an:', 8);
  const b = RedisAnalytics.connect(url, 'gh-test:an:', 8);
  closing.push(
    () => a.close(),
    () => b.close(),
  );
  const sample: AnalyticsSample = {
    route: 'r',
    service: undefined,
    consumer: undefined,
    status: 200,
    durationMs: 3,
    errorCode: undefined,
    clientIp: '10.0.0.1',
    userAgent: 'ua',
  };
  await Promise.all([a.ready(), b.ready()]);
  for (const minute of [1000, 1001]) {
    a.add(minute, 'route\u0000r', sample, 0);
    b.add(minute, 'route\u0000r', sample, 0);
    b.add(minute, 'route\u0000s', sample, 0);
  }
  await b.flush();
  assert.equal(b.lastError, undefined);
  const read = await a.read([1000, 1001], 4);
  assert.equal(a.lastError, undefined);
  assert.equal(read['route\u0000r']?.requests, 4);
  assert.equal(read['route\u0000s']?.requests, 2);
});

describe('two gateway instances on one Redis Cluster', { skip }, () => {
  const prefix = uniquePrefix('cluster-gw');
  const LIMIT = 7;
  let origin: Upstream;
  const gws: TestGateway[] = [];
  let served = 0;

  before(async () => {
    origin = await startUpstream((req, res) => {
      served++;
      res.writeHead(200, { 'cache-control': 'max-age=60', 'surrogate-key': 'tagged' });
      res.end(`${req.url} #${served}`);
    });
    const config = {
      analytics: { enabled: true },
      admin: { port: 0, host: '127.0.0.1' },
      store: { type: 'redis', url, prefix: `${prefix}rl:`, timeout: '1s', onStoreError: 'deny' },
      services: { origin: { targets: [{ url: origin.url }] } },
      routes: [
        ...(['fixed-window', 'sliding-window'] as const).map((algorithm) => ({
          name: algorithm,
          match: { paths: [`/${algorithm}`] },
          service: 'origin',
          policies: [{ type: 'rate-limit', algorithm, limit: LIMIT, window: '1h', by: 'global' }],
        })),
        {
          name: 'token-bucket',
          match: { paths: ['/token-bucket'] },
          service: 'origin',
          policies: [{ type: 'rate-limit', algorithm: 'token-bucket', rate: 1, per: '1h', burst: LIMIT, by: 'global' }],
        },
        {
          name: 'cached',
          match: { paths: ['/cached/*'] },
          service: 'origin',
          policies: [{ type: 'cache', store: 'redis', prefix: `${prefix}c:` }],
        },
      ],
    };
    gws.push(await startTestGateway(config), await startTestGateway(config));
    closing.push(() => origin.close(), ...gws.map((g) => () => g.stop()));
    // onStoreError: deny answers 503 until an instance is connected.
    for (const gw of gws)
      await waitFor('connected to the cluster', async () => (await request(`${gw.adminUrl}/ready`)).statusCode === 200, 10_000);
  });

  test('a rate limit is exact across both instances, for every algorithm', async () => {
    // The fixed window restarts on the hour: not within the few seconds before it.
    const toHour = 3_600_000 - (Date.now() % 3_600_000);
    if (toHour < 10_000) await sleep(toHour + 100);
    for (const path of ['/fixed-window', '/sliding-window', '/token-bucket']) {
      const statuses: number[] = [];
      for (let i = 0; i < 3 * LIMIT; i++) {
        const res = await request(gws[i % 2]!.url + path);
        await res.body.dump();
        statuses.push(res.statusCode);
      }
      assert.deepEqual(
        statuses,
        Array.from({ length: 3 * LIMIT }, (_, i) => (i < LIMIT ? 200 : 429)),
        path,
      );
    }
  });

  test('the response cache: stored by one, served by the other, purged through either', async () => {
    const get = async (gw: TestGateway, path: string) => {
      const r = await request(gw.url + path);
      return { body: await r.body.text(), status: String(r.headers['cache-status']) };
    };
    const first = await get(gws[0]!, '/cached/x');
    assert.match(first.status, /stored/);
    // The entry is written after the response: wait for it, not for a time.
    const fromB = await waitFor('a hit through the other instance', async () => {
      const r = await get(gws[1]!, '/cached/x');
      return r.status.includes('hit') && r;
    });
    assert.equal(fromB.body, first.body);
    const purge = await request(`${gws[1]!.adminUrl}/cache?tag=tagged`, { method: 'DELETE' });
    assert.equal(((await purge.body.json()) as { deleted: number }).deleted, 1);
    assert.match((await get(gws[0]!, '/cached/x')).status, /miss/);
  });

  test('analytics: each instance shows the totals of both', async () => {
    const read = async (gw: TestGateway) => {
      const res = await request(`${gw.adminUrl}/analytics?window=1h`);
      return (await res.body.json()) as { source: string; routes: { name: string; requests: number }[] };
    };
    /** The cached route's total, each instance's counts flushed first (b's when b is read). */
    const total = async () => {
      await read(gws[1]!);
      const r = await read(gws[0]!);
      assert.equal(r.source, 'redis');
      return r.routes.find((e) => e.name === 'cached')?.requests ?? 0;
    };
    const before = await total();
    for (let i = 0; i < 4; i++) await (await request(`${gws[i % 2]!.url}/cached/a${i}`)).body.dump();
    assert.equal(await total(), before + 4);
  });
});
