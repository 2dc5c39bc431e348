// Counters in this process's memory: exact, synchronous, bounded. Each key's state is one small
// object in an LRU with a per-key TTL (the time after which its state is no different from a
// fresh one), so idle keys are evicted and the map never grows past `maxKeys`.
import { LRUCache } from 'lru-cache';
import { monthBounds } from './month.js';
import type { Clock, Decision, RateStore } from './types.js';

/** One key's state; the fields mean different things per algorithm (see each method). */
interface Cell {
  a: number;
  b: number;
  c: number;
  d: number;
}

export interface MemoryStoreOptions {
  maxKeys?: number;
  clock?: Clock;
}

export const DEFAULT_MAX_KEYS = 100_000;
/** A billionth of a unit: see tokenBucket (the Lua scripts use the same). */
const SLACK = 1e-9;
/**
 * A bucket's wait is rounded up to whole ms after taking off the time half of SLACK takes to
 * refill or drain: a wait of exactly 1000 ms that floating point makes 1000.0000000000002 is 1000,
 * not 1001 (a Retry-After of 2 s), and at the wait announced the bucket is still within SLACK of
 * admitting, so the request passes.
 */
const HALF_SLACK = 5e-10;

/** An LRU TTL: whole ms, at least 1. */
const ttlOf = (ms: number) => Math.max(1, Math.ceil(ms));

export class MemoryStore implements RateStore {
  private cells: LRUCache<string, Cell> | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly maxKeys: number;
  private readonly injected: boolean;
  readonly now: Clock;

  constructor(opts: MemoryStoreOptions = {}) {
    this.maxKeys = opts.maxKeys ?? DEFAULT_MAX_KEYS;
    this.now = opts.clock ?? Date.now;
    this.injected = opts.clock !== undefined;
  }

  /** Keys held right now (for tests and metrics). */
  get size(): number {
    return this.cells?.size ?? 0;
  }

  // Created on first use: plans compiled only to be checked never allocate it.
  private map(): LRUCache<string, Cell> {
    if (this.cells) return this.cells;
    // Expired keys go when touched, when the LRU needs room, and in a sweep every 10 s (one timer
    // per store, not one per key as ttlAutopurge would set).
    this.sweeper = setInterval(() => this.purgeStale(), 10_000).unref();
    // An injected clock (tests) times the TTLs too, so that a key expires on the clock its state
    // is kept on (TTL checks then read it every time).
    const timing = this.injected ? { perf: { now: this.now }, ttlResolution: 0 } : {};
    return (this.cells = new LRUCache<string, Cell>({ max: this.maxKeys, ttlAutopurge: false, updateAgeOnGet: false, ...timing }));
  }

  /** Drops every key whose TTL has passed. */
  purgeStale(): void {
    this.cells?.purgeStale();
  }

  private touch(key: string, cell: Cell, ttl: number): void {
    this.map().set(key, cell, { ttl: ttlOf(ttl) });
  }

  // Every method below is the Lua script of the same name in lua.ts, step for step and in the same
  // order of floating-point operations, so that the two stores answer identically. Waits are whole
  // milliseconds rounded up (never earlier than the true wait). A clock that goes back (an NTP step)
  // never moves a key's state back: a window never returns to an earlier one, a sliding window or
  // a bucket stands still (nothing expires, refills or drains twice over the same time) until the
  // clock is past its last time again, and waits are measured on the clock as it now reads.

  // a = window start, b = units counted in it; written only when a request is admitted
  fixedWindow(key: string, limit: number, windowMs: number, cost: number): Decision {
    const now = this.now();
    const start = Math.floor(now / windowMs) * windowMs;
    return this.window(key, limit, now, cost, start, start + windowMs, windowMs);
  }

  calendarMonth(key: string, limit: number, cost: number): Decision {
    const now = this.now();
    const [start, end] = monthBounds(now);
    return this.window(key, limit, now, cost, start, end, 0);
  }

  /** `windowMs` 0: calendar months. */
  private window(key: string, limit: number, now: number, cost: number, start: number, end: number, windowMs: number): Decision {
    const map = this.map();
    const cell = map.get(key);
    let n = 0;
    if (cell !== undefined) {
      if (cell.a > start) {
        // The clock went back: keep counting in the later window.
        if (windowMs > 0) {
          start = Math.floor(cell.a / windowMs) * windowMs;
          end = start + windowMs;
        } else {
          [start, end] = monthBounds(cell.a);
        }
      }
      if (cell.a === start) n = cell.b;
    }
    const allowed = n + cost <= limit;
    if (allowed) {
      n += cost;
      if (cell === undefined) map.set(key, { a: start, b: n, c: 0, d: 0 }, { ttl: ttlOf(end - now) });
      else if (cell.a !== start) {
        cell.a = start;
        cell.b = n;
        this.touch(key, cell, end - now);
      } else cell.b = n;
    }
    const resetMs = Math.ceil(end - now);
    return { allowed, remaining: Math.max(0, limit - n), resetMs, retryAfterMs: allowed ? 0 : resetMs, limit };
  }

  // a = current window index, b = units in it, c = units in the previous window, d = the time of
  // the last admission (never moved back); written only when a request is admitted
  slidingWindow(key: string, limit: number, windowMs: number, cost: number): Decision {
    const now = this.now();
    const map = this.map();
    const cell = map.get(key);
    // The time the counts are weighed at: after the clock went back, time stands still at the last
    // admission until the clock is past it again.
    const at = cell !== undefined && cell.d > now ? cell.d : now;
    const w = Math.floor(at / windowMs);
    let c = 0;
    let p = 0;
    if (cell !== undefined) {
      if (cell.a === w) {
        c = cell.b;
        p = cell.c;
      } else if (cell.a === w - 1) p = cell.b;
    }
    const elapsed = at - w * windowMs;
    let used = (p * (windowMs - elapsed)) / windowMs + c;
    const allowed = used + cost <= limit;
    if (allowed) {
      c += cost;
      used += cost;
      // Kept until the window after this one ends: from then on, neither count weighs in.
      const ttl = (w + 2) * windowMs - now;
      if (cell === undefined) map.set(key, { a: w, b: c, c: p, d: at }, { ttl: ttlOf(ttl) });
      else {
        const moved = cell.a !== w;
        cell.a = w;
        cell.b = c;
        cell.c = p;
        cell.d = at;
        if (moved) this.touch(key, cell, ttl);
      }
    }
    const ahead = at - now; // > 0 only after the clock went back
    const resetMs = windowMs - elapsed + ahead;
    let retry = 0;
    if (!allowed) {
      const room = limit - cost - c;
      if (cost > limit) retry = resetMs;
      // Integer products, then one division: a threshold that is a whole ms comes out exact.
      else if (room >= 0) retry = Math.max(1, (windowMs * (p - room)) / p - elapsed) + ahead;
      else retry = resetMs + (windowMs * (c - limit + cost)) / c;
    }
    return {
      allowed,
      remaining: Math.max(0, Math.floor(limit - used)),
      resetMs: Math.ceil(resetMs),
      retryAfterMs: Math.ceil(retry),
      limit,
    };
  }

  // a = tokens, b = time of the last refill (never moved back)
  tokenBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Decision {
    const now = this.now();
    const map = this.map();
    const cell = map.get(key);
    let tokens = burst;
    let ts = now;
    if (cell !== undefined) {
      tokens = cell.a;
      ts = cell.b;
    }
    tokens = Math.min(burst, tokens + (Math.max(0, now - ts) * rate) / perMs);
    if (ts < now) ts = now;
    // A billionth of a token of slack: refilled for exactly the announced wait, the sum can come
    // out a rounding error short of `cost` (seen with rate 2.5), and the client is refused again.
    const allowed = cost - tokens <= SLACK;
    if (allowed) tokens = Math.max(0, tokens - cost);
    const ahead = ts - now; // > 0 only after the clock went back
    const fill = ahead + ((burst - tokens) * perMs) / rate;
    const eps = (HALF_SLACK * perMs) / rate;
    if (cell === undefined) map.set(key, { a: tokens, b: ts, c: 0, d: 0 }, { ttl: ttlOf(fill) });
    else {
      cell.a = tokens;
      cell.b = ts;
      this.touch(key, cell, fill);
    }
    return {
      allowed,
      remaining: Math.max(0, Math.floor(tokens + SLACK)),
      resetMs: Math.max(0, Math.ceil(fill - eps)),
      retryAfterMs: allowed ? 0 : Math.max(0, Math.ceil(ahead + ((Math.min(cost, burst) - tokens) * perMs) / rate - eps)),
      limit: burst,
    };
  }

  // a = level (units queued), b = time it was measured at (never moved back); written only when a
  // request is admitted. The same decisions as GCRA, but the state is the level, not an arrival
  // time on the epoch: an epoch-ms double steps in 2^-12 ms, and with an interval that is not a
  // whole ms (1.5, 6 or 7 per second) the burst came out one short.
  leakyBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Decision {
    const now = this.now();
    const map = this.map();
    const cell = map.get(key);
    let level = 0;
    let ts = now;
    if (cell !== undefined) {
      level = cell.a;
      ts = cell.b;
    }
    if (ts < now) {
      level = Math.max(0, level - ((now - ts) * rate) / perMs);
      ts = now;
    }
    const allowed = level + cost - burst <= SLACK;
    if (allowed) level += cost;
    const ahead = ts - now; // > 0 only after the clock went back
    const held = ahead + (level * perMs) / rate;
    const eps = (HALF_SLACK * perMs) / rate;
    if (allowed) {
      if (cell === undefined) map.set(key, { a: level, b: ts, c: 0, d: 0 }, { ttl: ttlOf(held) });
      else {
        cell.a = level;
        cell.b = ts;
        this.touch(key, cell, held);
      }
    }
    let retry = 0;
    if (!allowed) retry = cost > burst ? held : ahead + ((level + cost - burst) * perMs) / rate;
    return {
      allowed,
      remaining: Math.max(0, Math.floor(burst - level + SLACK)),
      resetMs: Math.max(0, Math.ceil(held - eps)),
      retryAfterMs: Math.max(0, Math.ceil(retry - eps)),
      limit: burst,
    };
  }

  close(): void {
    clearInterval(this.sweeper);
    this.cells?.clear();
  }
}
