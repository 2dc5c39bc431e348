import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from './memory.js';
import { monthBounds } from './month.js';

function clocked(start = 1_000_000_000_000) {
  let now = start;
  const store = new MemoryStore({ clock: () => now });
  return {
    store,
    at: (ms: number) => (now = start + ms),
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
  };
}

test('fixed window: exactly `limit` per aligned window, then a fresh window', () => {
  const c = clocked(1_000_000_000_000); // a multiple of 1000: windows start at 0 here
  const out = Array.from({ length: 12 }, () => c.store.fixedWindow('k', 10, 1000, 1));
  assert.equal(out.filter((d) => d.allowed).length, 10);
  assert.deepEqual(out[9], { allowed: true, remaining: 0, resetMs: 1000, retryAfterMs: 0, limit: 10 });
  assert.equal(out[10]!.allowed, false);
  assert.equal(out[10]!.retryAfterMs, 1000);
  c.advance(999);
  assert.equal(c.store.fixedWindow('k', 10, 1000, 1).retryAfterMs, 1);
  c.advance(1);
  const fresh = c.store.fixedWindow('k', 10, 1000, 1);
  assert.equal(fresh.allowed, true);
  assert.equal(fresh.remaining, 9);
});

test('fixed window: cost counts, and a request costing more than is left is refused without counting', () => {
  const c = clocked();
  assert.equal(c.store.fixedWindow('k', 10, 1000, 7).remaining, 3);
  const refused = c.store.fixedWindow('k', 10, 1000, 4);
  assert.equal(refused.allowed, false);
  assert.equal(refused.remaining, 3);
  assert.equal(c.store.fixedWindow('k', 10, 1000, 3).allowed, true);
  assert.equal(c.store.fixedWindow('k', 10, 1000, 0).allowed, true);
});

test('keys are counted separately', () => {
  const c = clocked();
  for (let i = 0; i < 5; i++) c.store.fixedWindow('a', 5, 1000, 1);
  assert.equal(c.store.fixedWindow('a', 5, 1000, 1).allowed, false);
  assert.equal(c.store.fixedWindow('b', 5, 1000, 1).allowed, true);
});

test('calendar month: the quota lasts until the first of the next month, UTC', () => {
  const start = Date.UTC(2026, 1, 27, 12); // 27 Feb 2026, noon
  const c = clocked(start);
  for (let i = 0; i < 3; i++) assert.equal(c.store.calendarMonth('q', 3, 1).allowed, true);
  const over = c.store.calendarMonth('q', 3, 1);
  assert.equal(over.allowed, false);
  assert.equal(over.resetMs, Date.UTC(2026, 2, 1) - start);
  c.at(Date.UTC(2026, 2, 1) - start - 1);
  assert.equal(c.store.calendarMonth('q', 3, 1).allowed, false);
  c.at(Date.UTC(2026, 2, 1) - start);
  assert.equal(c.store.calendarMonth('q', 3, 1).allowed, true);
  assert.deepEqual(monthBounds(Date.UTC(2024, 11, 31, 23, 59)), [Date.UTC(2024, 11, 1), Date.UTC(2025, 0, 1)]);
});

test('sliding window: the previous window weighs in by the part of it still inside the window', () => {
  const c = clocked(1_000_000_000_000);
  for (let i = 0; i < 100; i++) assert.equal(c.store.slidingWindow('s', 100, 1000, 1).allowed, true);
  assert.equal(c.store.slidingWindow('s', 100, 1000, 1).allowed, false);
  // 25 % into the next window: 75 % of the previous 100 still count, so 25 more pass.
  c.advance(1250);
  let passed = 0;
  for (let i = 0; i < 50; i++) if (c.store.slidingWindow('s', 100, 1000, 1).allowed) passed++;
  assert.equal(passed, 25);
  const refused = c.store.slidingWindow('s', 100, 1000, 1);
  assert.equal(refused.allowed, false);
  assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 750, String(refused.retryAfterMs));
  // After the advertised wait, one more passes.
  c.advance(Math.ceil(refused.retryAfterMs));
  assert.equal(c.store.slidingWindow('s', 100, 1000, 1).allowed, true);
});

test('sliding window: under steady overload every window admits the limit and no more', () => {
  const c = clocked(1_000_000_000_000);
  const perWindow = new Map<number, number>();
  for (let t = 0; t < 10_000; t += 2) {
    c.at(t);
    if (c.store.slidingWindow('s', 100, 1000, 1).allowed)
      perWindow.set(Math.floor(t / 1000), (perWindow.get(Math.floor(t / 1000)) ?? 0) + 1);
  }
  for (const [w, n] of perWindow) assert.ok(n >= 99 && n <= 101, `window ${w}: ${n}`);
});

test('token bucket: burst at once, then `rate` per `per`', () => {
  const c = clocked();
  for (let i = 0; i < 5; i++) assert.equal(c.store.tokenBucket('t', 10, 1000, 5, 1).allowed, true);
  const empty = c.store.tokenBucket('t', 10, 1000, 5, 1);
  assert.equal(empty.allowed, false);
  assert.equal(empty.retryAfterMs, 100);
  assert.equal(empty.limit, 5);
  c.advance(100);
  assert.equal(c.store.tokenBucket('t', 10, 1000, 5, 1).allowed, true);
  assert.equal(c.store.tokenBucket('t', 10, 1000, 5, 1).allowed, false);
  c.advance(10_000);
  const full = c.store.tokenBucket('t', 10, 1000, 5, 1);
  assert.equal(full.remaining, 4); // refilled to the burst, never beyond
});

test('leaky bucket (GCRA): `burst` at once, then one every per/rate', () => {
  const c = clocked();
  for (let i = 0; i < 3; i++) assert.equal(c.store.leakyBucket('l', 2, 1000, 3, 1).allowed, true, `#${i}`);
  const full = c.store.leakyBucket('l', 2, 1000, 3, 1);
  assert.equal(full.allowed, false);
  assert.equal(full.retryAfterMs, 500);
  assert.equal(full.remaining, 0);
  c.advance(499);
  assert.equal(c.store.leakyBucket('l', 2, 1000, 3, 1).allowed, false);
  c.advance(1);
  assert.equal(c.store.leakyBucket('l', 2, 1000, 3, 1).allowed, true);
});

test('the memory store is bounded: idle keys expire and the least recently used go first', async () => {
  const store = new MemoryStore({ maxKeys: 1000 });
  for (let i = 0; i < 10_000; i++) store.fixedWindow(`k${i}`, 10, 1000, 1);
  assert.equal(store.size, 1000);
  const ttl = new MemoryStore({ maxKeys: 1000 });
  for (let i = 0; i < 100; i++) ttl.fixedWindow(`k${i}`, 10, 20, 1);
  ttl.fixedWindow('long', 10, 60_000, 1);
  assert.equal(ttl.size, 101);
  await new Promise((r) => setTimeout(r, 60));
  ttl.purgeStale();
  assert.equal(ttl.size, 1); // the idle 20 ms windows are gone, the live one stays
  ttl.close();
  store.close();
});
