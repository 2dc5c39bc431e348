// The stores' shared decision table (issue 16, part 4): its vocabulary, and the runner that plays
// every case against a MemoryStore, a RedisStore on the shared Redis and one on a 3-master Redis
// Cluster of the file's own (their Lua scripts take the test's clock instead of TIME), then
// requires the stores' answers to be identical, call for call. The cases are in test/store-contract*.test.ts.
//
// Every case is a sequence of calls on an injected clock with the full Decision each call must
// return, worked out by hand from docs/policies.md and the contract in src/store/types.ts. Times
// are offsets `t` (ms) from the case's `base`; a case's keys are its own. Waits (`resetMs`,
// `retryAfterMs`) are whole milliseconds rounded up: a Redis reply can only carry integers, and a
// wait rounded down would announce a time at which the request is still refused. A clock that goes
// back (an NTP step) is a step back in `t`: no store may then count anything twice (admit more
// than its limit) or answer a negative wait.
//
// The memory store's TTLs run on the injected clock (a key evicted too early would show as a wrong
// answer); Redis's run on real time and are never shorter than a second, far above the few real
// milliseconds a case takes, so eviction never decides a Redis answer here.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Decision, RateStore, StoreMethod } from '../../src/store/types.js';
import { SHARED_REDIS, deleteUnder, inspector, sharedRedisUp, uniquePrefix } from './redis.js';
import { redisToolsHere, startCluster } from './redis-cluster.js';

export const SEC = 1000;
export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** 20 May 2026 10:00:00.000 UTC: aligned to the second, the minute and the hour. */
export const T0 = Date.UTC(2026, 4, 20, 10);
/** The first multiple of 2001 from T0: aligned to windows of 1000.5 ms. */
export const B2001 = Math.ceil(T0 / 2001) * 2001;

// ---- the table's vocabulary -------------------------------------------------------------------

export interface Call {
  method: StoreMethod;
  key: string;
  args: number[];
}
export type Want = Omit<Decision, 'limit'>;
/** [t, call, the decision without `limit` (the case's `quota`)] */
export type Step = [number, Call, Want];
export interface Case {
  name: string;
  base: number;
  quota: number;
  steps: Step[];
}

export const fw = (key: string, limit: number, windowMs: number, cost: number): Call => ({
  method: 'fixedWindow',
  key,
  args: [limit, windowMs, cost],
});
export const cm = (key: string, limit: number, cost: number): Call => ({ method: 'calendarMonth', key, args: [limit, cost] });
export const sw = (key: string, limit: number, windowMs: number, cost: number): Call => ({
  method: 'slidingWindow',
  key,
  args: [limit, windowMs, cost],
});
export const tb = (key: string, rate: number, perMs: number, burst: number, cost: number): Call => ({
  method: 'tokenBucket',
  key,
  args: [rate, perMs, burst, cost],
});
export const lb = (key: string, rate: number, perMs: number, burst: number, cost: number): Call => ({
  method: 'leakyBucket',
  key,
  args: [rate, perMs, burst, cost],
});
export const ok = (remaining: number, resetMs: number): Want => ({ allowed: true, remaining, resetMs, retryAfterMs: 0 });
export const no = (remaining: number, resetMs: number, retryAfterMs: number): Want => ({
  allowed: false,
  remaining,
  resetMs,
  retryAfterMs,
});

// ---- running it -------------------------------------------------------------------------------

export function ask(store: RateStore, c: Call): Promise<Decision> {
  const a = c.args;
  switch (c.method) {
    case 'fixedWindow':
      return Promise.resolve(store.fixedWindow(c.key, a[0]!, a[1]!, a[2]!));
    case 'calendarMonth':
      return Promise.resolve(store.calendarMonth(c.key, a[0]!, a[1]!));
    case 'slidingWindow':
      return Promise.resolve(store.slidingWindow(c.key, a[0]!, a[1]!, a[2]!));
    case 'tokenBucket':
      return Promise.resolve(store.tokenBucket(c.key, a[0]!, a[1]!, a[2]!, a[3]!));
    case 'leakyBucket':
      return Promise.resolve(store.leakyBucket(c.key, a[0]!, a[1]!, a[2]!, a[3]!));
  }
}

/** One decision of the memory store, synchronously. */
export function decideNow(store: MemoryStore, c: Call): Decision {
  const a = c.args;
  switch (c.method) {
    case 'fixedWindow':
      return store.fixedWindow(c.key, a[0]!, a[1]!, a[2]!);
    case 'calendarMonth':
      return store.calendarMonth(c.key, a[0]!, a[1]!);
    case 'slidingWindow':
      return store.slidingWindow(c.key, a[0]!, a[1]!, a[2]!);
    case 'tokenBucket':
      return store.tokenBucket(c.key, a[0]!, a[1]!, a[2]!, a[3]!);
    case 'leakyBucket':
      return store.leakyBucket(c.key, a[0]!, a[1]!, a[2]!, a[3]!);
  }
}

/** Plays a case's steps in order on `store`, whose clock reads `clock.now`. */
export async function play(c: Case, store: RateStore, clock: { now: number }, keyPrefix = ''): Promise<Decision[]> {
  const out: Decision[] = [];
  for (const [t, call] of c.steps) {
    clock.now = c.base + t;
    out.push(await ask(store, { ...call, key: keyPrefix + call.key }));
  }
  return out;
}

export const show = (call: Call) => `${call.method}(${[JSON.stringify(call.key), ...call.args].join(', ')})`;
export const fmt = (d: Decision | undefined) => (d ? JSON.stringify(d) : 'nothing');

/** Every step whose decision is not the table's, one line each. */
export function mismatches(c: Case, got: Decision[]): string[] {
  const lines: string[] = [];
  c.steps.forEach(([t, call, want], i) => {
    const expected: Decision = { ...want, limit: c.quota };
    try {
      assert.deepStrictEqual(got[i], expected);
    } catch {
      lines.push(`  step ${i + 1}, t=${t} ${show(call)}:\n    got  ${fmt(got[i])}\n    want ${fmt(expected)}`);
    }
  });
  return lines;
}

export function assertTable(store: string, c: Case, got: Decision[]): void {
  const lines = mismatches(c, got);
  if (lines.length) assert.fail(`${store} store, ${c.name}:\n${lines.join('\n')}`);
}

/** The shared Redis under a key prefix of this file's own, on a clock of its own; gone after the file. */
export interface SharedRedis {
  store: RedisStore | undefined;
  clock: { now: number };
  prefix: string;
  /** The skip reason when there is no Redis (sharedRedisUp says so loudly; with CI=true it throws). */
  skip: string | false;
  /** The same on a Redis Cluster (the same prefix, its own clock). */
  cluster: { store: RedisStore | undefined; clock: { now: number }; skip: string | false };
}

export async function sharedRedis(name: string): Promise<SharedRedis> {
  const up = await sharedRedisUp();
  const clock = { now: T0 };
  const prefix = uniquePrefix(name);
  const store = up ? new RedisStore({ url: SHARED_REDIS, prefix, timeoutMs: 2000, connect: true, clock: () => clock.now }) : undefined;
  const clusterClock = { now: T0 };
  const cluster = redisToolsHere() ? await startCluster() : undefined;
  const clusterStore = cluster
    ? new RedisStore({ url: cluster.url, prefix, timeoutMs: 2000, connect: true, clock: () => clusterClock.now })
    : undefined;
  after(async () => {
    await clusterStore?.close();
    await cluster?.stop();
    if (!store) return;
    await store.close();
    const r = inspector();
    await deleteUnder(r, prefix);
    r.disconnect();
  });
  return {
    store,
    clock,
    prefix,
    skip: !store && 'no Redis at 127.0.0.1:6379',
    cluster: { store: clusterStore, clock: clusterClock, skip: !clusterStore && 'no redis-server for a Redis Cluster' },
  };
}

/** One test per case: the memory store, the Redis store, and the two identical. */
export function runTable(cases: Case[], redis: SharedRedis): void {
  cases.forEach((c, n) => {
    test(c.name, async (t) => {
      const memClock = { now: c.base };
      const memory = new MemoryStore({ maxKeys: 64, clock: () => memClock.now });
      let fromMemory: Decision[] = [];
      let fromRedis: Decision[] | undefined;
      try {
        fromMemory = await play(c, memory, memClock);
      } finally {
        memory.close();
      }
      await t.test('memory store: the table', () => assertTable('memory', c, fromMemory));
      await t.test('redis store: the table', { skip: redis.skip }, async () => {
        await redis.store!.ready();
        fromRedis = await play(c, redis.store!, redis.clock, `c${n}:`);
        assertTable('redis', c, fromRedis);
      });
      await t.test('both stores: identical decisions', { skip: redis.skip }, () => {
        assert.ok(fromRedis, 'the Redis store answered');
        assert.deepStrictEqual(fromMemory, fromRedis);
      });
      await t.test('redis cluster store: the table, identical decisions', { skip: redis.cluster.skip }, async () => {
        await redis.cluster.store!.ready();
        const fromCluster = await play(c, redis.cluster.store!, redis.cluster.clock, `c${n}:`);
        assertTable('redis cluster', c, fromCluster);
        assert.deepStrictEqual(fromMemory, fromCluster);
      });
    });
  });
}
