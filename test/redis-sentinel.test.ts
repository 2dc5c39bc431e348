// The Redis stores through Sentinel (redis+sentinel://): a master, its replica and one sentinel of
// this file's own, on loopback ports. The stores find the master through the sentinel, and follow
// it when SENTINEL FAILOVER promotes the replica: the counts go on where they were.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { RedisStore } from '../src/store/redis.js';
import { RedisCacheStore } from '../src/store/cache/redis.js';
import { entry } from '../src/store/cache/contract.test-helper.js';
import { ask, redisToolsHere, startSentinel, type TestSentinel } from './helpers/redis-cluster.js';
import { waitFor } from './helpers/child.js';

const sentinel: TestSentinel | undefined = redisToolsHere() ? await startSentinel() : undefined;
const skip = sentinel ? false : 'no redis-server for Sentinel';
const closing: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closing.reverse()) await c();
  await sentinel?.stop();
});

test('through Sentinel: decisions and cache entries on the master, followed through a failover', { skip }, async () => {
  const s = sentinel!;
  const rl = new RedisStore({ url: s.url, prefix: 'gh-test:sen:', timeoutMs: 2000, connect: true });
  const cache = new RedisCacheStore({ url: s.url, prefix: 'gh-test:senc:', timeoutMs: 2000 });
  closing.push(
    () => rl.close(),
    () => cache.close(),
  );
  await rl.ready();
  await cache.ready();
  // A bucket of 5 that refills one token in 30 years: no window boundary, no refill, during the test.
  const take = () => rl.tokenBucket('k', 1, 1e12, 5, 1);
  for (let i = 0; i < 3; i++) assert.equal((await take()).allowed, true);
  await cache.put('GET /x', entry(), 600_000);
  // Written on the master the sentinel names (not on some server of the URL: there is none).
  assert.equal(await ask(s.masterPort, 'EXISTS', 'gh-test:sen:{k}'), 1);

  // Replication is asynchronous: the replica has these writes once it acknowledged them.
  assert.equal(await ask(s.masterPort, 'WAIT', '1', '10000'), 1);
  const onReplica = await ask(s.replicaPort, 'HGET', 'gh-test:sen:{k}', 't');
  await s.failover();
  // The old master is now a replica; the stores reconnect to the new one. Until they have, a
  // decision may fail (StoreUnavailableError): wait for one that answers.
  const next = await waitFor('a decision on the new master', () => take().catch(() => undefined), 30_000, 100);
  // The count went on where it was: the replica had it.
  const where = async () => ({
    exists: [await ask(s.masterPort, 'EXISTS', 'gh-test:sen:{k}'), await ask(s.replicaPort, 'EXISTS', 'gh-test:sen:{k}')],
    master: await s.master(),
    onReplica,
    now: await ask(s.replicaPort, 'HGETALL', 'gh-test:sen:{k}'),
    ports: [s.masterPort, s.replicaPort],
  });
  assert.deepEqual({ allowed: next.allowed, remaining: next.remaining }, { allowed: true, remaining: 1 }, JSON.stringify(await where()));
  assert.equal(await s.master(), s.replicaPort);
  assert.equal(await ask(s.replicaPort, 'EXISTS', 'gh-test:sen:{k}'), 1);
  const entries = await waitFor('the cache on the new master', () => cache.get('GET /x').catch(() => undefined), 30_000, 100);
  assert.equal(entries.length, 1);
  await waitFor(
    'a cache put on the new master',
    () =>
      cache.put('GET /y', entry(), 600_000).then(
        () => true,
        () => false,
      ),
    30_000,
    100,
  );
  assert.equal((await cache.get('GET /y')).length, 1);
});
