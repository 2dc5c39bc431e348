// onStoreError over real HTTP, with a private redis-server stopped mid-run and started again:
// allow (no headers), deny (503), local (memory counting with limit / store.instances), and the
// return to Redis once it is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { privateRedis, sharedRedisUp, uniquePrefix, type PrivateRedis } from './helpers/redis.js';
import { waitFor } from './helpers/child.js';

const up = await sharedRedisUp(); // the redis-server binary comes with the shared one
let upstream: Upstream;
let gw: TestGateway;
let redis: PrivateRedis;

const limit = (onStoreError: string) => ({ type: 'rate-limit', algorithm: 'fixed-window', limit: 4, window: '1h', by: 'ip', onStoreError });

before(async () => {
  if (!up) return;
  redis = await privateRedis();
  upstream = await startUpstream();
  gw = await startTestGateway({
    store: { type: 'redis', url: redis.url, prefix: uniquePrefix('errors'), timeout: '50ms', instances: 2 },
    services: { api: { targets: [{ url: upstream.url }] } },
    routes: ['allow', 'deny', 'local'].map((mode) => ({
      name: mode,
      match: { paths: [`/${mode}/*`] },
      service: 'api',
      policies: [limit(mode)],
    })),
  });
});
after(async () => {
  if (!up) return;
  await gw.stop();
  await upstream.close();
  await redis.stop();
});

async function get(path: string) {
  const res = await request(`${gw.url}${path}`);
  const body = await res.body.text();
  return { status: res.statusCode, ratelimit: res.headers.ratelimit as string | undefined, retryAfter: res.headers['retry-after'], body };
}

test(
  'Redis up: counted in Redis; Redis down: allow, deny or count locally; Redis back: counted in Redis again',
  { skip: !up },
  async () => {
    // Up (the first call may land before the connection is ready: wait for a counted answer).
    await waitFor('counting in Redis', async () => (await get('/local/x')).ratelimit);
    assert.match((await get('/local/x')).ratelimit!, /^"4-per-1h";r=\d;t=\d+$/);

    await redis.stop();
    const allow = await get('/allow/x');
    assert.equal(allow.status, 200);
    assert.equal(allow.ratelimit, undefined, 'no count, no RateLimit fields');

    const deny = await get('/deny/x');
    assert.equal(deny.status, 503);
    assert.equal((JSON.parse(deny.body) as { error: { code: string } }).error.code, 'GW_RATE_LIMIT_STORE_UNAVAILABLE');
    assert.equal(deny.retryAfter, '1');

    // local: 4 / 2 instances = 2 per instance while Redis is away.
    const local = [await get('/local/y'), await get('/local/y'), await get('/local/y')];
    assert.deepEqual(
      local.map((r) => r.status),
      [200, 200, 429],
    );
    assert.match(local[0]!.ratelimit!, /^"4-per-1h";r=1;t=\d+$/);
    assert.match(local[2]!.ratelimit!, /;r=0;/);

    await redis.start();
    // The breaker lets a trial call through after its cooldown; then counting is in Redis again
    // (a fresh Redis: the count of this key starts over at 4).
    const back = await waitFor(
      'counting in Redis again',
      async () => {
        const r = await get('/local/z');
        return r.status === 200 && /;r=3;/.test(r.ratelimit ?? '') ? r : undefined;
      },
      8000,
      100,
    );
    assert.match(back.ratelimit!, /^"4-per-1h";r=3;/);
    const again = await get('/local/z');
    assert.match(again.ratelimit!, /;r=2;/);
  },
);
