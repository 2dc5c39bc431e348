// One decision table, two stores: every case below is a sequence of calls on an injected clock with
// the full Decision each call must return, worked out by hand from docs/policies.md and the
// contract in src/store/types.ts. The same table runs against a MemoryStore and against a
// RedisStore on the shared Redis (its Lua scripts take the test's clock instead of TIME), and the
// two stores' answers must then also be identical, call for call.
//
// Times are offsets `t` (ms) from the case's `base`; a case's keys are its own. Waits (`resetMs`,
// `retryAfterMs`) are whole milliseconds rounded up: a Redis reply can only carry integers, and a
// wait rounded down would announce a time at which the request is still refused.
//
// Memory TTLs run on real time while the clock is injected: every case keeps a key's TTL far above
// the few real milliseconds a case takes, so eviction never decides an answer here.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../src/store/memory.js';
import { RedisStore } from '../src/store/redis.js';
import type { Decision, RateStore, StoreMethod } from '../src/store/types.js';
import { SHARED_REDIS, deleteUnder, inspector, sharedRedisUp, uniquePrefix } from './helpers/redis.js';

const up = await sharedRedisUp();

const SEC = 1000;
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** 20 May 2026 10:00:00.000 UTC: aligned to the second, the minute and the hour. */
const T0 = Date.UTC(2026, 4, 20, 10);

// ---- the table's vocabulary -------------------------------------------------------------------

interface Call { method: StoreMethod; key: string; args: number[] }
type Want = Omit<Decision, 'limit'>;
/** [t, call, the decision without `limit` (the case's `quota`)] */
type Step = [number, Call, Want];
interface Case {
  name: string; base: number; quota: number; steps: Step[];
  /**
   * Known findings: the check named runs as a `todo` (reported, not failing the suite) with this
   * reason, until the store is fixed. `memoryWholeMs`: the memory store's only fault is waits that
   * are not whole milliseconds, so its decisions are also checked with them rounded up.
   */
  findings?: { memory?: string; redis?: string; identical?: string; memoryWholeMs?: true };
}

const fw = (key: string, limit: number, windowMs: number, cost: number): Call => ({ method: 'fixedWindow', key, args: [limit, windowMs, cost] });
const cm = (key: string, limit: number, cost: number): Call => ({ method: 'calendarMonth', key, args: [limit, cost] });
const sw = (key: string, limit: number, windowMs: number, cost: number): Call => ({ method: 'slidingWindow', key, args: [limit, windowMs, cost] });
const tb = (key: string, rate: number, perMs: number, burst: number, cost: number): Call => ({ method: 'tokenBucket', key, args: [rate, perMs, burst, cost] });
const lb = (key: string, rate: number, perMs: number, burst: number, cost: number): Call => ({ method: 'leakyBucket', key, args: [rate, perMs, burst, cost] });
const ok = (remaining: number, resetMs: number): Want => ({ allowed: true, remaining, resetMs, retryAfterMs: 0 });
const no = (remaining: number, resetMs: number, retryAfterMs: number): Want => ({ allowed: false, remaining, resetMs, retryAfterMs });

// ---- the table --------------------------------------------------------------------------------

// Found by this table (issue 16, part 4); see the cases that carry them.
const ROUNDING = 'finding: the memory store answers waits in fractions of a millisecond (333.33), the Redis scripts round them up (334)';
const LEAKY_PRECISION = 'finding: both stores keep the leaky bucket\'s theoretical arrival time as an epoch-ms double '
  + '(its step is 2^-12 ms today), so with a period that is not a whole ms the burst can come out one short (1.5, 6, 7 per second) and remaining one low';

const CASES: Case[] = [
  // ---- fixed window: a counter per window aligned to the epoch
  {
    name: 'fixed window: exactly the limit, one over, the wait is the window end, then a fresh window',
    base: T0, quota: 3,
    steps: [
      [10_000, fw('a', 3, MIN, 1), ok(2, 50_000)],
      [10_000, fw('a', 3, MIN, 1), ok(1, 50_000)],
      [20_000, fw('a', 3, MIN, 1), ok(0, 40_000)], // exactly at the limit
      [20_000, fw('a', 3, MIN, 1), no(0, 40_000, 40_000)], // one over
      [59_999, fw('a', 3, MIN, 1), no(0, 1, 1)], // the window's last millisecond
      [60_000, fw('a', 3, MIN, 1), ok(2, 60_000)], // the next window
    ],
  },
  {
    name: 'fixed window: cost > 1, a refusal counts nothing, cost 0 passes at the limit, cost = limit, cost > limit',
    base: T0, quota: 10,
    steps: [
      [0, fw('a', 10, MIN, 7), ok(3, 60_000)],
      [1_000, fw('a', 10, MIN, 4), no(3, 59_000, 59_000)],
      [1_000, fw('a', 10, MIN, 3), ok(0, 59_000)], // the refused 4 took nothing
      [2_000, fw('a', 10, MIN, 0), ok(0, 58_000)],
      [2_000, fw('a', 10, MIN, 1), no(0, 58_000, 58_000)],
      [2_000, fw('b', 10, MIN, 10), ok(0, 58_000)],
      [2_000, fw('c', 10, MIN, 11), no(10, 58_000, 58_000)], // can never pass; config refuses such a cost
    ],
  },
  {
    name: 'fixed window: windows align to the epoch, not to a key\'s first call; keys count separately',
    base: T0, quota: 2,
    steps: [
      [2_500, fw('a', 2, 10 * SEC, 1), ok(1, 7_500)],
      [2_500, fw('b', 2, 10 * SEC, 1), ok(1, 7_500)],
      [9_000, fw('a', 2, 10 * SEC, 1), ok(0, 1_000)],
      [9_000, fw('a', 2, 10 * SEC, 1), no(0, 1_000, 1_000)],
      [9_000, fw('b', 2, 10 * SEC, 1), ok(0, 1_000)], // b is untouched by a's refusal
      [9_999, fw('c', 2, 10 * SEC, 2), ok(0, 1)],
      [10_000, fw('a', 2, 10 * SEC, 1), ok(1, 10_000)],
      [10_000, fw('c', 2, 10 * SEC, 1), ok(1, 10_000)],
    ],
  },

  // ---- calendar month (UTC)
  {
    name: 'calendar month: December rolls over into January of the next year',
    base: Date.UTC(2025, 11, 31, 23), quota: 2, // 31 Dec 2025 23:00, one hour before 2026
    steps: [
      [0, cm('q', 2, 1), ok(1, HOUR)],
      [0, cm('q', 2, 1), ok(0, HOUR)],
      [1_000, cm('q', 2, 1), no(0, HOUR - 1_000, HOUR - 1_000)],
      [HOUR - 1, cm('q', 2, 1), no(0, 1, 1)], // 31 Dec 23:59:59.999
      [HOUR, cm('q', 2, 1), ok(1, 31 * DAY)], // 1 Jan 2026: January has 31 days
      [HOUR, cm('q', 2, 1), ok(0, 31 * DAY)],
      [HOUR, cm('q', 2, 1), no(0, 31 * DAY, 31 * DAY)],
    ],
  },
  {
    name: 'calendar month: a leap February ends after the 29th; cost > 1 and cost 0',
    base: Date.UTC(2024, 1, 29, 12), quota: 5, // 29 Feb 2024 noon
    steps: [
      [0, cm('q', 5, 5), ok(0, 12 * HOUR)],
      [0, cm('q', 5, 0), ok(0, 12 * HOUR)],
      [0, cm('q', 5, 1), no(0, 12 * HOUR, 12 * HOUR)],
      [12 * HOUR, cm('q', 5, 2), ok(3, 31 * DAY)], // 1 Mar 2024
    ],
  },
  {
    name: 'calendar month: February has 29 days in 2000 and 2024, 28 in 2026 and 2100 (Gregorian rules)',
    base: 0, quota: 1, // t is the epoch time itself
    steps: [
      [Date.UTC(2000, 1, 1), cm('y2000', 1, 1), ok(0, 29 * DAY)],
      [Date.UTC(2024, 1, 1), cm('y2024', 1, 1), ok(0, 29 * DAY)],
      [Date.UTC(2026, 1, 1), cm('y2026', 1, 1), ok(0, 28 * DAY)],
      [Date.UTC(2100, 1, 1), cm('y2100', 1, 1), ok(0, 28 * DAY)],
      [Date.UTC(2100, 1, 28, 23, 59, 59, 999), cm('y2100', 1, 1), no(0, 1, 1)],
      [Date.UTC(2100, 2, 1), cm('y2100', 1, 1), ok(0, 31 * DAY)],
    ],
  },

  // ---- sliding window: used = previous × (share of it still inside the window) + current
  {
    name: 'sliding window: exactly the limit, one over; the previous window weighs in by its remaining share',
    base: T0, quota: 10,
    steps: [
      [0, sw('a', 10, MIN, 4), ok(6, 60_000)],
      [30_000, sw('a', 10, MIN, 6), ok(0, 30_000)], // exactly at the limit
      // Over within this window alone: 30 s to its end, then 10 × (1 − 9/10) of the next, when
      // 10 × 54/60 = 9 of this window's 10 still count.
      [30_000, sw('a', 10, MIN, 1), no(0, 30_000, 36_000)],
      [60_000, sw('a', 10, MIN, 1), no(0, 60_000, 6_000)], // the previous 10 weigh fully
      [65_999, sw('a', 10, MIN, 1), no(0, 54_001, 1)], // 10 × 54.001/60 = 9.00017 still count
      [66_000, sw('a', 10, MIN, 1), ok(0, 54_000)], // 10 × 54/60 = 9, + 1
      [90_000, sw('a', 10, MIN, 0), ok(4, 30_000)], // 10 × ½ + 1 = 6
      [90_000, sw('a', 10, MIN, 4), ok(0, 30_000)],
      [90_000, sw('a', 10, MIN, 1), no(0, 30_000, 6_000)], // at 96 s: 10 × 24/60 + 5 = 9
    ],
  },
  {
    name: 'sliding window: a quiet window forgets the one before; cost 0 reads the weighted count; cost > limit; keys separate',
    base: T0, quota: 4,
    steps: [
      [0, sw('a', 4, MIN, 4), ok(0, 60_000)],
      [0, sw('b', 4, MIN, 1), ok(3, 60_000)],
      [90_000, sw('a', 4, MIN, 2), ok(0, 30_000)], // 4 × ½ + 2 = 4
      [90_000, sw('a', 4, MIN, 1), no(0, 30_000, 15_000)], // at 105 s: 4 × ¼ + 2 = 3
      [100_000, sw('a', 4, MIN, 0), ok(0, 20_000)], // 4 × ⅓ + 2 = 3.33
      [110_000, sw('a', 4, MIN, 0), ok(1, 10_000)], // 4 × ⅙ + 2 = 2.67
      [110_000, sw('a', 4, MIN, 5), no(1, 10_000, 10_000)], // can never pass: wait for the window end
      [180_000, sw('a', 4, MIN, 4), ok(0, 60_000)], // window 3: window 1 is two back, window 2 was empty
      [180_000, sw('b', 4, MIN, 4), ok(0, 60_000)],
    ],
  },
  {
    name: 'sliding window: a wait that is not a whole millisecond is rounded up',
    base: T0, quota: 7,
    findings: { memory: ROUNDING, identical: ROUNDING, memoryWholeMs: true },
    steps: [
      [0, sw('a', 7, MIN, 7), ok(0, 60_000)],
      // 7 × (60 000 − e)/60 000 + 1 ≤ 7 from e = 60 000/7 = 8 571.43 ms
      [60_000, sw('a', 7, MIN, 1), no(0, 60_000, 8_572)],
      [68_571, sw('a', 7, MIN, 1), no(0, 51_429, 1)], // 6.00005 still count
      [68_572, sw('a', 7, MIN, 1), ok(0, 51_428)], // 5.99993 + 1
    ],
  },

  // ---- token bucket: `burst` tokens, refilled at rate/per
  {
    name: 'token bucket: the burst, exactly empty, one over, the refill, capped at the burst',
    base: T0, quota: 3,
    steps: [
      [0, tb('a', 1, SEC, 3, 1), ok(2, 1_000)],
      [0, tb('a', 1, SEC, 3, 2), ok(0, 3_000)], // exactly empty
      [0, tb('a', 1, SEC, 3, 1), no(0, 3_000, 1_000)],
      [500, tb('a', 1, SEC, 3, 1), no(0, 2_500, 500)], // half a token
      [1_000, tb('a', 1, SEC, 3, 1), ok(0, 3_000)], // exactly one token
      [11_000, tb('a', 1, SEC, 3, 0), ok(3, 0)], // 10 s of refill, capped at 3
      [11_000, tb('a', 1, SEC, 3, 3), ok(0, 3_000)],
      [12_500, tb('a', 1, SEC, 3, 2), no(1, 1_500, 500)], // 1.5 tokens
      [13_000, tb('a', 1, SEC, 3, 2), ok(0, 3_000)],
    ],
  },
  {
    name: 'token bucket: cost > 1, cost > burst, keys separate',
    base: T0, quota: 5, // 10 per minute: a token every 6 s
    steps: [
      [0, tb('a', 10, MIN, 5, 5), ok(0, 30_000)],
      [0, tb('b', 10, MIN, 5, 1), ok(4, 6_000)],
      [0, tb('a', 10, MIN, 5, 1), no(0, 30_000, 6_000)],
      // Cost 6 > burst 5 can never pass; the wait is for a full bucket (config refuses such a cost).
      [3_000, tb('b', 10, MIN, 5, 6), no(4, 3_000, 3_000)],
      [3_000, tb('b', 10, MIN, 5, 4), ok(0, 27_000)], // 4.5 − 4 = 0.5 left
    ],
  },
  {
    name: 'token bucket: a fractional rate, 2.5 per minute (a token every 24 s)',
    base: T0, quota: 1,
    steps: [
      [0, tb('a', 2.5, MIN, 1, 1), ok(0, 24_000)],
      [1_000, tb('a', 2.5, MIN, 1, 1), no(0, 23_000, 23_000)], // 1/24 of a token
      [24_000, tb('a', 2.5, MIN, 1, 1), ok(0, 24_000)], // exactly the announced wait later
      [36_000, tb('a', 2.5, MIN, 1, 1), no(0, 12_000, 12_000)],
    ],
  },
  {
    name: 'token bucket: a fractional rate, 0.5 per second',
    base: T0, quota: 2,
    steps: [
      [0, tb('a', 0.5, SEC, 2, 2), ok(0, 4_000)],
      [1_000, tb('a', 0.5, SEC, 2, 1), no(0, 3_000, 1_000)],
      [2_000, tb('a', 0.5, SEC, 2, 1), ok(0, 4_000)],
    ],
  },
  {
    name: 'token bucket: a refill time that is not a whole millisecond is rounded up (3 per second)',
    base: T0, quota: 3,
    findings: { memory: ROUNDING, identical: ROUNDING, memoryWholeMs: true },
    steps: [
      [0, tb('a', 3, SEC, 3, 3), ok(0, 1_000)],
      [0, tb('a', 3, SEC, 3, 1), no(0, 1_000, 334)], // 333.33 ms
      [334, tb('a', 3, SEC, 3, 1), ok(0, 1_000)], // 1.002 tokens: 0.002 left, full in 999.33 ms
    ],
  },

  // ---- leaky bucket (GCRA): one unit leaks every per/rate, at most `burst` queued
  {
    name: 'leaky bucket: the burst, exactly full, one over, the drain',
    base: T0, quota: 3,
    steps: [
      [0, lb('a', 1, SEC, 3, 1), ok(2, 1_000)],
      [0, lb('a', 1, SEC, 3, 1), ok(1, 2_000)],
      [0, lb('a', 1, SEC, 3, 1), ok(0, 3_000)], // exactly full
      [0, lb('a', 1, SEC, 3, 1), no(0, 3_000, 1_000)],
      [500, lb('a', 1, SEC, 3, 1), no(0, 2_500, 500)],
      [1_000, lb('a', 1, SEC, 3, 1), ok(0, 3_000)], // one unit leaked
      [2_500, lb('a', 1, SEC, 3, 0), ok(1, 1_500)], // cost 0 reads the level
      [10_000, lb('a', 1, SEC, 3, 2), ok(1, 2_000)], // drained empty long ago
    ],
  },
  {
    name: 'leaky bucket: cost > 1, cost > burst, keys separate',
    base: T0, quota: 3,
    steps: [
      [0, lb('a', 1, SEC, 3, 2), ok(1, 2_000)],
      [0, lb('a', 1, SEC, 3, 2), no(1, 2_000, 1_000)],
      [0, lb('a', 1, SEC, 3, 1), ok(0, 3_000)],
      // Cost 4 > burst 3 can never pass; the wait is for an empty bucket (config refuses such a cost).
      [0, lb('b', 1, SEC, 3, 4), no(3, 0, 0)],
      [0, lb('c', 1, SEC, 3, 1), ok(2, 1_000)],
      [0, lb('c', 1, SEC, 3, 4), no(2, 1_000, 1_000)],
    ],
  },
  {
    name: 'leaky bucket: a fractional rate, 2.5 per second (one every 400 ms)',
    base: T0, quota: 2,
    steps: [
      [0, lb('a', 2.5, SEC, 2, 1), ok(1, 400)],
      [0, lb('a', 2.5, SEC, 2, 1), ok(0, 800)],
      [0, lb('a', 2.5, SEC, 2, 1), no(0, 800, 400)],
      [400, lb('a', 2.5, SEC, 2, 1), ok(0, 800)],
      [700, lb('a', 2.5, SEC, 2, 0), ok(0, 500)],
    ],
  },
  {
    name: 'leaky bucket: an interval that is not a whole millisecond: the whole burst passes, waits rounded up (1.5 per second)',
    base: T0, quota: 2,
    // Today both stores admit only the first of the two: the arrival time now + 666.67 ms is kept
    // as now + 666.666748 (the nearest double), so the second comes 0.000244 ms too early, refused
    // with a wait of 0.000244 ms (memory) or 1 ms (Redis), and `remaining` after the first is 0.
    // Rates of 6 and 7 per second lose one of their burst the same way.
    findings: { memory: LEAKY_PRECISION, redis: LEAKY_PRECISION, identical: ROUNDING },
    steps: [
      [0, lb('a', 1.5, SEC, 2, 1), ok(1, 667)], // 666.67 ms
      [0, lb('a', 1.5, SEC, 2, 1), ok(0, 1_334)], // 1 333.33 ms
      [0, lb('a', 1.5, SEC, 2, 1), no(0, 1_334, 667)],
    ],
  },
];

// ---- running the table ------------------------------------------------------------------------

function ask(store: RateStore, c: Call): Promise<Decision> {
  const a = c.args;
  switch (c.method) {
    case 'fixedWindow': return Promise.resolve(store.fixedWindow(c.key, a[0]!, a[1]!, a[2]!));
    case 'calendarMonth': return Promise.resolve(store.calendarMonth(c.key, a[0]!, a[1]!));
    case 'slidingWindow': return Promise.resolve(store.slidingWindow(c.key, a[0]!, a[1]!, a[2]!));
    case 'tokenBucket': return Promise.resolve(store.tokenBucket(c.key, a[0]!, a[1]!, a[2]!, a[3]!));
    case 'leakyBucket': return Promise.resolve(store.leakyBucket(c.key, a[0]!, a[1]!, a[2]!, a[3]!));
  }
}

/** Plays a case's steps in order on `store`, whose clock reads `clock.now`. */
async function play(c: Case, store: RateStore, clock: { now: number }, keyPrefix = ''): Promise<Decision[]> {
  const out: Decision[] = [];
  for (const [t, call] of c.steps) {
    clock.now = c.base + t;
    out.push(await ask(store, { ...call, key: keyPrefix + call.key }));
  }
  return out;
}

const show = (call: Call) => `${call.method}(${[JSON.stringify(call.key), ...call.args].join(', ')})`;
const fmt = (d: Decision | undefined) => (d ? JSON.stringify(d) : 'nothing');

/** Every step whose decision is not the table's, one line each. */
function mismatches(c: Case, got: Decision[]): string[] {
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

function assertTable(store: string, c: Case, got: Decision[]): void {
  const lines = mismatches(c, got);
  if (lines.length) assert.fail(`${store} store, ${c.name}:\n${lines.join('\n')}`);
}

// One RedisStore for the file; each case's keys are under their own `c<n>:`.
const redisClock = { now: T0 };
const prefix = uniquePrefix('contract');
const redis = up ? new RedisStore({ url: SHARED_REDIS, prefix, timeoutMs: 2000, connect: true, clock: () => redisClock.now }) : undefined;

after(async () => {
  if (!redis) return;
  await redis.close();
  const r = inspector();
  await deleteUnder(r, prefix);
  r.disconnect();
});

const roundedUp = (d: Decision): Decision => ({ ...d, resetMs: Math.ceil(d.resetMs), retryAfterMs: Math.ceil(d.retryAfterMs) });
const NO_REDIS = !redis && 'no Redis at 127.0.0.1:6379';

CASES.forEach((c, n) => {
  test(c.name, async (t) => {
    const f = c.findings ?? {};
    const memClock = { now: c.base };
    const memory = new MemoryStore({ clock: () => memClock.now });
    let fromMemory: Decision[] = [];
    let fromRedis: Decision[] | undefined;
    try {
      fromMemory = await play(c, memory, memClock);
    } finally {
      memory.close();
    }
    await t.test('memory store: the table', { todo: f.memory ?? false }, () => assertTable('memory', c, fromMemory));
    if (f.memoryWholeMs) {
      await t.test('memory store: the table, its waits rounded up to whole ms', () => assertTable('memory', c, fromMemory.map(roundedUp)));
    }
    await t.test('redis store: the table', { skip: NO_REDIS, todo: f.redis ?? false }, async () => {
      await redis!.ready();
      fromRedis = await play(c, redis!, redisClock, `c${n}:`);
      assertTable('redis', c, fromRedis);
    });
    await t.test('both stores: identical decisions', { skip: NO_REDIS, todo: f.identical ?? false }, () => {
      assert.ok(fromRedis, 'the Redis store answered');
      assert.deepStrictEqual(fromMemory, fromRedis);
    });
  });
});
