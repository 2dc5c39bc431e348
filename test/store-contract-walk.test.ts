// A random walk over every algorithm of the stores (issue 16, part 4): calls with costs from 0 to
// the capacity, on two keys, on a clock that stands still, moves a little or a lot, sometimes goes
// back (an NTP step), and sometimes moves by exactly the wait just announced. Both stores must
// answer identically, call for call; every answer must be well formed; no limit may admit more
// than it holds; and each announced wait must be the whole ms rounded up of the true one: the same
// call then is admitted, one ms earlier it is still refused (checked on the memory store by
// replaying the walk up to the refusal). The decision table is in store-contract*.test.ts.
import { seededRandom } from '../src/upstream/balancers/seeded-random.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../src/store/memory.js';
import { monthBounds } from '../src/store/month.js';
import type { Decision, RateStore } from '../src/store/types.js';
import { B2001, HOUR, MIN, SEC, T0, ask, cm, decideNow, fmt, fw, lb, sharedRedis, show, sw, tb, type Call } from './helpers/store-table.js';

const redis = await sharedRedis('contract-walk');

/** mulberry32: the same walk on every run. */
const random = seededRandom;

interface Walk {
  name: string;
  base: number;
  period: number;
  capacity: number;
  call: (key: string, cost: number) => Call;
  /** Windows: the window (start or index) a time falls in. */
  windowOf?: (t: number) => number;
  /** Buckets: units added or drained per ms. */
  perMs?: number;
}

const WALKS: Walk[] = [
  {
    name: 'fixed window 5 per 10 s',
    base: T0,
    period: 10 * SEC,
    capacity: 5,
    call: (k, n) => fw(k, 5, 10 * SEC, n),
    windowOf: (t) => Math.floor(t / (10 * SEC)),
  },
  {
    name: 'fixed window 3 per 1000.5 ms',
    base: B2001,
    period: 1000.5,
    capacity: 3,
    call: (k, n) => fw(k, 3, 1000.5, n),
    windowOf: (t) => Math.floor(t / 1000.5),
  },
  {
    name: 'calendar month 4, around a new year',
    base: Date.UTC(2025, 11, 31, 20),
    period: HOUR,
    capacity: 4,
    call: (k, n) => cm(k, 4, n),
    windowOf: (t) => monthBounds(t)[0],
  },
  {
    name: 'sliding window 6 per 10 s',
    base: T0,
    period: 10 * SEC,
    capacity: 6,
    call: (k, n) => sw(k, 6, 10 * SEC, n),
    windowOf: (t) => Math.floor(t / (10 * SEC)),
  },
  {
    name: 'sliding window 7 per 1000.5 ms',
    base: B2001,
    period: 1000.5,
    capacity: 7,
    call: (k, n) => sw(k, 7, 1000.5, n),
    windowOf: (t) => Math.floor(t / 1000.5),
  },
  {
    name: 'token bucket 2.5 per second, burst 3',
    base: T0,
    period: SEC,
    capacity: 3,
    call: (k, n) => tb(k, 2.5, SEC, 3, n),
    perMs: 2.5 / SEC,
  },
  { name: 'token bucket 7 per second, burst 7', base: T0, period: SEC, capacity: 7, call: (k, n) => tb(k, 7, SEC, 7, n), perMs: 7 / SEC },
  {
    name: 'token bucket 1.5 per minute, burst 2',
    base: T0,
    period: MIN,
    capacity: 2,
    call: (k, n) => tb(k, 1.5, MIN, 2, n),
    perMs: 1.5 / MIN,
  },
  {
    name: 'leaky bucket 1.5 per second, burst 2',
    base: T0,
    period: SEC,
    capacity: 2,
    call: (k, n) => lb(k, 1.5, SEC, 2, n),
    perMs: 1.5 / SEC,
  },
  { name: 'leaky bucket 6 per second, burst 6', base: T0, period: SEC, capacity: 6, call: (k, n) => lb(k, 6, SEC, 6, n), perMs: 6 / SEC },
  { name: 'leaky bucket 7 per second, burst 7', base: T0, period: SEC, capacity: 7, call: (k, n) => lb(k, 7, SEC, 7, n), perMs: 7 / SEC },
  {
    name: 'leaky bucket 2.5 per minute, burst 3',
    base: T0,
    period: MIN,
    capacity: 3,
    call: (k, n) => lb(k, 2.5, MIN, 3, n),
    perMs: 2.5 / MIN,
  },
];

const WALK_STEPS = 300;
/** Refusals per walk whose wait is checked by a replay. */
const WALK_PROBES = 25;

/** The walk's steps; the clock may move by the wait of the last refusal, so it is played as it goes. */
function walkSteps(w: Walk, seed: number): { dt: (lastWait: number) => number; key: string; cost: number }[] {
  const rnd = random(seed);
  return Array.from({ length: WALK_STEPS }, () => {
    const r = rnd();
    const size = rnd();
    const dt = (lastWait: number) =>
      r < 0.3
        ? 0
        : r < 0.65
          ? 1 + Math.floor((size * w.period) / 4)
          : r < 0.8
            ? Math.floor(size * 2.5 * w.period)
            : r < 0.9
              ? -(1 + Math.floor(size * 1.5 * w.period)) // the clock goes back
              : lastWait;
    const c = rnd();
    const cost = c < 0.1 ? 0 : c < 0.25 ? w.capacity : 1 + Math.floor(rnd() * Math.min(3, w.capacity));
    return { dt, key: rnd() < 0.7 ? 'x' : 'y', cost };
  });
}

/** Plays a walk; returns each step's time and decision. */
async function playWalk(
  w: Walk,
  seed: number,
  store: RateStore,
  clock: { now: number },
  keyPrefix = '',
): Promise<{ t: number; call: Call; d: Decision }[]> {
  const out: { t: number; call: Call; d: Decision }[] = [];
  let now = w.base;
  let lastWait = 0;
  for (const s of walkSteps(w, seed)) {
    now += s.dt(lastWait);
    clock.now = now;
    const call = w.call(s.key, s.cost);
    const d = await ask(store, { ...call, key: keyPrefix + call.key });
    if (!d.allowed) lastWait = d.retryAfterMs;
    out.push({ t: now, call, d });
  }
  return out;
}

/** Every answer well formed, and no limit admitting more than it holds. */
function checkWalk(w: Walk, steps: { t: number; call: Call; d: Decision }[]): void {
  const counted = new Map<string, Map<number, number>>(); // windows: key → window → units admitted
  const latest = new Map<string, number>(); // windows: key → the latest window counted in
  const admitted = new Map<string, number>(); // buckets: key → units admitted
  const span = new Map<string, [number, number]>(); // buckets: key → first and latest time
  steps.forEach(({ t, call, d }, i) => {
    const at = `step ${i + 1}, t=${t - w.base} ${show(call)}: ${fmt(d)}`;
    const cost = call.args[call.method === 'calendarMonth' ? 1 : call.method === 'tokenBucket' || call.method === 'leakyBucket' ? 3 : 2]!;
    for (const v of [d.remaining, d.resetMs, d.retryAfterMs])
      assert.ok(Number.isInteger(v) && v >= 0 && !Object.is(v, -0), `${at}: a whole, non-negative number`);
    assert.ok(d.remaining <= w.capacity, `${at}: remaining above the capacity`);
    assert.equal(d.limit, w.capacity, at);
    if (d.allowed) assert.equal(d.retryAfterMs, 0, `${at}: admitted with a wait`);
    else assert.ok(d.retryAfterMs >= 1, `${at}: refused without a wait`);
    if (cost === 0) assert.ok(d.allowed, `${at}: cost 0 refused`);
    if (w.windowOf) {
      // A window counts from the latest one counted in: the clock going back never reopens one.
      const win = Math.max(w.windowOf(t), latest.get(call.key) ?? -Infinity);
      if (!d.allowed) return;
      latest.set(call.key, win);
      const per = counted.get(call.key) ?? new Map<number, number>();
      counted.set(call.key, per);
      const n = (per.get(win) ?? 0) + cost;
      per.set(win, n);
      assert.ok(n <= w.capacity, `${at}: ${n} units admitted in one window, the limit is ${w.capacity}`);
    } else {
      const [first, last] = span.get(call.key) ?? [t, t];
      span.set(call.key, [first, Math.max(last, t)]);
      if (!d.allowed) return;
      const n = (admitted.get(call.key) ?? 0) + cost;
      admitted.set(call.key, n);
      const most = w.capacity + (Math.max(last, t) - first) * w.perMs!;
      assert.ok(n <= most + 1e-6, `${at}: ${n} units admitted, at most ${most} could be`);
    }
  });
}

WALKS.forEach((w, n) => {
  const seed = 0x16_0000 + n;
  test(`random walk: ${w.name}`, async (t) => {
    const memClock = { now: w.base };
    const memory = new MemoryStore({ maxKeys: 64, clock: () => memClock.now });
    let fromMemory: { t: number; call: Call; d: Decision }[] = [];
    try {
      fromMemory = await playWalk(w, seed, memory, memClock);
    } finally {
      memory.close();
    }
    await t.test('memory store: well formed, within the limit', () => checkWalk(w, fromMemory));
    await t.test('memory store: each wait is the true one rounded up to whole ms', () => {
      let probes = 0;
      for (let i = 0; i < fromMemory.length && probes < WALK_PROBES; i++) {
        const { t: at, call, d } = fromMemory[i]!;
        if (d.allowed) continue;
        probes++;
        for (const [dt, admitted] of [
          [d.retryAfterMs, true],
          [d.retryAfterMs - 1, false],
        ] as const) {
          const clock = { now: w.base };
          const replay = new MemoryStore({ maxKeys: 64, clock: () => clock.now });
          try {
            const steps = walkSteps(w, seed);
            let now = w.base;
            let lastWait = 0;
            for (let j = 0; j < i; j++) {
              now += steps[j]!.dt(lastWait);
              clock.now = now;
              const before = decideNow(replay, w.call(steps[j]!.key, steps[j]!.cost));
              if (!before.allowed) lastWait = before.retryAfterMs;
            }
            clock.now = at + dt;
            const again = decideNow(replay, call);
            assert.equal(
              again.allowed,
              admitted,
              `step ${i + 1}, t=${at - w.base} ${show(call)}: refused with a wait of ${d.retryAfterMs} ms; ${dt} ms later: ${fmt(again)}`,
            );
          } finally {
            replay.close();
          }
        }
      }
      assert.ok(probes > 0, 'the walk had refusals to check');
    });
    await t.test('redis store: identical decisions', { skip: redis.skip }, async () => {
      await redis.store!.ready();
      const fromRedis = await playWalk(w, seed, redis.store!, redis.clock, `w${n}:`);
      for (let i = 0; i < fromMemory.length; i++) {
        const m = fromMemory[i]!;
        assert.deepStrictEqual(fromRedis[i]!.d, m.d, `step ${i + 1}, t=${m.t - w.base} ${show(m.call)}`);
      }
    });
    await t.test('redis cluster store: identical decisions', { skip: redis.cluster.skip }, async () => {
      await redis.cluster.store!.ready();
      const fromCluster = await playWalk(w, seed, redis.cluster.store!, redis.cluster.clock, `w${n}:`);
      for (let i = 0; i < fromMemory.length; i++) {
        const m = fromMemory[i]!;
        assert.deepStrictEqual(fromCluster[i]!.d, m.d, `step ${i + 1}, t=${m.t - w.base} ${show(m.call)}`);
      }
    });
  });
});
