// The Redis store against a real Redis: each algorithm's Lua script, atomicity across instances,
// TTLs and hash tags on every key, and the timeout + breaker in front of a slow or stopped Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisStore } from '../src/store/redis.js';
import { CALENDAR_MONTH, FIXED_WINDOW, LEAKY_BUCKET, SLIDING_WINDOW, TOKEN_BUCKET } from '../src/store/lua.js';
import { monthBounds } from '../src/store/month.js';
import { StoreUnavailableError, type Decision } from '../src/store/types.js';
import { STORE_BREAKER } from '../src/store/breaker.js';
import { SHARED_REDIS, deleteUnder, delayProxy, inspector, keysUnder, privateRedis, sharedRedisUp, uniquePrefix } from './helpers/redis.js';
import { sleep, waitFor } from './helpers/child.js';

const up = await sharedRedisUp();
let r: Redis;
const prefixes: string[] = [];
const stores: RedisStore[] = [];

function store(url = SHARED_REDIS, timeoutMs = 1000): RedisStore {
  const prefix = uniquePrefix('store');
  prefixes.push(prefix);
  const s = new RedisStore({ url, prefix, timeoutMs, connect: true });
  stores.push(s);
  return s;
}

async function ready(s: RedisStore): Promise<RedisStore> {
  await s.ready();
  return s;
}

before(() => {
  if (up) r = inspector();
});
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  if (up) {
    for (const p of prefixes) await deleteUnder(r, p);
    r.disconnect();
  }
});

const allowedOf = (ds: Decision[]) => ds.filter((d) => d.allowed).length;

test('fixed window, sliding window, month: exactly the limit passes, then refusals with a wait', { skip: !up }, async () => {
  const s = await ready(store());
  const fixed = await Promise.all(Array.from({ length: 8 }, () => s.fixedWindow('f', 5, 3_600_000, 1)));
  assert.equal(allowedOf(fixed), 5);
  const refused = await s.fixedWindow('f', 5, 3_600_000, 1);
  assert.equal(refused.allowed, false);
  assert.equal(refused.remaining, 0);
  assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 3_600_000);
  assert.equal(refused.retryAfterMs, refused.resetMs);

  const sliding = await Promise.all(Array.from({ length: 8 }, () => s.slidingWindow('s', 5, 3_600_000, 1)));
  assert.equal(allowedOf(sliding), 5);
  assert.ok((await s.slidingWindow('s', 5, 3_600_000, 2)).retryAfterMs > 0);

  const month = await Promise.all(Array.from({ length: 4 }, () => s.calendarMonth('m', 3, 1)));
  assert.equal(allowedOf(month), 3);
  const last = month.find((d) => !d.allowed)!;
  const [, end] = monthBounds(Date.now());
  // Redis's clock is this machine's: the Lua month end is the same instant.
  assert.ok(Math.abs(last.resetMs - (end - Date.now())) < 5000, `${last.resetMs} vs ${end - Date.now()}`);
});

test('token bucket and leaky bucket: the burst passes, then one per interval', { skip: !up }, async () => {
  const s = await ready(store());
  const token = await Promise.all(Array.from({ length: 6 }, () => s.tokenBucket('t', 1, 3_600_000, 4, 1)));
  assert.equal(allowedOf(token), 4);
  const t = token.find((d) => !d.allowed)!;
  assert.ok(t.retryAfterMs > 3_500_000 && t.retryAfterMs <= 3_600_000, String(t.retryAfterMs));
  assert.equal(t.limit, 4);
  const leaky = await Promise.all(Array.from({ length: 6 }, () => s.leakyBucket('l', 1, 3_600_000, 3, 1)));
  assert.equal(allowedOf(leaky), 3);
  const l = leaky.find((d) => !d.allowed)!;
  assert.ok(l.retryAfterMs > 3_500_000 && l.retryAfterMs <= 3_600_000, String(l.retryAfterMs));
});

test('three instances on one Redis share one exact count', { skip: !up }, async () => {
  const a = await ready(store());
  const prefix = prefixes.at(-1)!;
  const others = [1, 2].map(() => {
    const s = new RedisStore({ url: SHARED_REDIS, prefix, timeoutMs: 1000, connect: true });
    stores.push(s);
    return s;
  });
  await Promise.all(others.map((o) => o.ready()));
  const all = [a, ...others];
  const ds = await Promise.all(Array.from({ length: 300 }, (_, i) => all[i % 3]!.fixedWindow('shared', 100, 3_600_000, 1)));
  assert.equal(allowedOf(ds), 100);
  const tb = await Promise.all(Array.from({ length: 300 }, (_, i) => all[i % 3]!.tokenBucket('shared-tb', 1, 3_600_000, 50, 1)));
  assert.equal(allowedOf(tb), 50);
});

test('10,000 distinct keys: every key has a TTL and a hash tag; the scripts are loaded (EVALSHA)', { skip: !up }, async () => {
  const s = await ready(store());
  const prefix = prefixes.at(-1)!;
  const calls: Promise<Decision>[] = [];
  for (let i = 0; i < 10_000; i++) {
    const k = `user-${i}`;
    switch (i % 5) {
      case 0:
        calls.push(s.fixedWindow(k, 10, 60_000, 1));
        break;
      case 1:
        calls.push(s.slidingWindow(k, 10, 60_000, 1));
        break;
      case 2:
        calls.push(s.tokenBucket(k, 10, 60_000, 10, 1));
        break;
      case 3:
        calls.push(s.leakyBucket(k, 10, 60_000, 10, 1));
        break;
      default:
        calls.push(s.calendarMonth(k, 10, 1));
    }
  }
  await Promise.all(calls);
  const keys = await keysUnder(r, prefix);
  assert.equal(keys.length, 10_000);
  const pipeline = r.pipeline();
  for (const k of keys) pipeline.pttl(k);
  const ttls = (await pipeline.exec())!.map(([, v]) => v as number);
  assert.ok(
    ttls.every((t) => t > 0),
    `keys without TTL: ${ttls.filter((t) => t <= 0).length}`,
  );
  for (const k of keys) assert.match(k, /^gh-test:store:[0-9a-f]+:\{user-\d+\}$/);
  const shas = [FIXED_WINDOW, SLIDING_WINDOW, TOKEN_BUCKET, LEAKY_BUCKET, CALENDAR_MONTH].map((l) =>
    createHash('sha1').update(l).digest('hex'),
  );
  assert.deepEqual(await r.script('EXISTS', ...shas), [1, 1, 1, 1, 1]);
});

test('a slow Redis: each call gives up after the timeout, then the breaker stops calling it, then it recovers', { skip: !up }, async () => {
  const proxy = await delayProxy(6379, 0);
  try {
    const s = await ready(store(proxy.url, 50));
    // Redis still runs the calls that timed out: a limit they cannot use up.
    const LIMIT = 1000;
    assert.equal((await s.fixedWindow('slow', LIMIT, 60_000, 1)).allowed, true);
    proxy.delayMs = 400;
    // Every call failing: the breaker opens as soon as the window holds its minimum of calls (the
    // one success above is one of them).
    for (let i = 0; i < STORE_BREAKER.minCalls - 1; i++) {
      assert.equal(s.breaker.open, false, `open after ${i} failed calls`);
      await assert.rejects(
        s.fixedWindow('slow', LIMIT, 60_000, 1),
        (e: Error) => e instanceof StoreUnavailableError && /timed out/i.test(e.message),
      );
    }
    assert.equal(s.breaker.open, true);
    const sent = proxy.sent;
    await assert.rejects(s.fixedWindow('slow', LIMIT, 60_000, 1), /breaker is open/);
    await sleep(20);
    // Counted on the way to Redis only: replies to the calls that timed out keep arriving.
    assert.equal(proxy.sent, sent, 'an open breaker sends nothing to Redis');
    proxy.delayMs = 0;
    await sleep(450); // let the slow replies drain
    await waitFor(
      'the store back after the cooldown',
      async () => (await s.fixedWindow('slow', LIMIT, 60_000, 1).catch(() => undefined))?.allowed,
      5000,
      100,
    );
    assert.equal(s.breaker.open, false);
  } finally {
    await proxy.close();
  }
});

test('Redis stopped and started again: calls fail at once while it is down, and the store comes back', { skip: !up }, async () => {
  const redis = await privateRedis();
  try {
    const s = store(redis.url, 50);
    await waitFor('connected', async () => (await s.fixedWindow('x', 10, 60_000, 1).catch(() => undefined))?.allowed);
    await redis.stop();
    for (let i = 0; i < 4; i++) await assert.rejects(s.fixedWindow('x', 10, 60_000, 1), StoreUnavailableError);
    await redis.start();
    const back = await waitFor(
      'the store back after Redis restarted',
      async () => s.fixedWindow('x', 10, 60_000, 1).catch(() => undefined),
      8000,
      100,
    );
    assert.equal(back.remaining, 9); // a fresh Redis: the count starts again
  } finally {
    await redis.stop();
  }
});
