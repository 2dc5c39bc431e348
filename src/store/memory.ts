// Counters in this process's memory: exact, synchronous, bounded. Each key's state is one small
// object in an LRU with a per-key TTL (the time after which its state is no different from a
// fresh one), so idle keys are evicted and the map never grows past `maxKeys`.
import { LRUCache } from 'lru-cache';
import { monthBounds } from './month.js';
import type { Clock, Decision, RateStore } from './types.js';

/** One key's state; the fields mean different things per algorithm (see each method). */
interface Cell { a: number; b: number; c: number }

export interface MemoryStoreOptions {
  maxKeys?: number;
  clock?: Clock;
}

export const DEFAULT_MAX_KEYS = 100_000;
/** See tokenBucket (the Lua script uses the same). */
const TOKEN_SLACK = 1e-9;

export class MemoryStore implements RateStore {
  private cells: LRUCache<string, Cell> | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly maxKeys: number;
  readonly now: Clock;

  constructor(opts: MemoryStoreOptions = {}) {
    this.maxKeys = opts.maxKeys ?? DEFAULT_MAX_KEYS;
    this.now = opts.clock ?? Date.now;
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
    return (this.cells = new LRUCache<string, Cell>({ max: this.maxKeys, ttlAutopurge: false, updateAgeOnGet: false }));
  }

  /** Drops every key whose TTL has passed. */
  purgeStale(): void {
    this.cells?.purgeStale();
  }

  private cell(key: string, ttl: number, a: number, b: number, c: number): Cell {
    const map = this.map();
    let cell = map.get(key);
    if (cell === undefined) {
      cell = { a, b, c };
      map.set(key, cell, { ttl: Math.max(1, Math.ceil(ttl)) });
    }
    return cell;
  }

  private touch(key: string, cell: Cell, ttl: number): void {
    this.map().set(key, cell, { ttl: Math.max(1, Math.ceil(ttl)) });
  }

  // a = window start, b = units counted in it
  fixedWindow(key: string, limit: number, windowMs: number, cost: number): Decision {
    const now = this.now();
    const start = now - (now % windowMs);
    return this.window(key, limit, start, start + windowMs, now, cost);
  }

  calendarMonth(key: string, limit: number, cost: number): Decision {
    const now = this.now();
    const [start, end] = monthBounds(now);
    return this.window(key, limit, start, end, now, cost);
  }

  private window(key: string, limit: number, start: number, end: number, now: number, cost: number): Decision {
    const cell = this.cell(key, end - now, start, 0, 0);
    if (cell.a !== start) {
      cell.a = start;
      cell.b = 0;
      this.touch(key, cell, end - now);
    }
    const allowed = cell.b + cost <= limit;
    if (allowed) cell.b += cost;
    const resetMs = end - now;
    return { allowed, remaining: Math.max(0, limit - cell.b), resetMs, retryAfterMs: allowed ? 0 : resetMs, limit };
  }

  // a = current window index, b = units in it, c = units in the previous window
  slidingWindow(key: string, limit: number, windowMs: number, cost: number): Decision {
    const now = this.now();
    const w = Math.floor(now / windowMs);
    const cell = this.cell(key, 2 * windowMs, w, 0, 0);
    if (cell.a !== w) {
      cell.c = cell.a === w - 1 ? cell.b : 0;
      cell.b = 0;
      cell.a = w;
      this.touch(key, cell, 2 * windowMs);
    }
    return slidingDecision(cell, limit, windowMs, now - w * windowMs, cost);
  }

  // a = tokens, b = time of the last refill
  tokenBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Decision {
    const now = this.now();
    const fill = (burst * perMs) / rate;
    const cell = this.cell(key, fill, burst, now, 0);
    const tokens = Math.min(burst, cell.a + ((now - cell.b) * rate) / perMs);
    // A billionth of a token of slack: refilled for exactly the announced wait, the sum can come
    // out a rounding error short of `cost` (seen with rate 2.5), and the client is refused again.
    const allowed = tokens >= cost - TOKEN_SLACK;
    cell.a = allowed ? Math.max(0, tokens - cost) : tokens;
    cell.b = now;
    this.touch(key, cell, fill);
    return {
      allowed,
      remaining: Math.max(0, Math.floor(cell.a)),
      resetMs: Math.max(0, ((burst - cell.a) * perMs) / rate),
      retryAfterMs: allowed ? 0 : ((Math.min(cost, burst) - cell.a) * perMs) / rate,
      limit: burst,
    };
  }

  // a = theoretical arrival time (GCRA)
  leakyBucket(key: string, rate: number, perMs: number, burst: number, cost: number): Decision {
    const now = this.now();
    const cell = this.cell(key, 1, now, 0, 0);
    return gcra(this, key, cell, now, perMs / rate, burst, cost);
  }

  /** Re-arms a leaky bucket key's TTL (called by gcra()). */
  keep(key: string, cell: Cell, ttl: number): void {
    this.touch(key, cell, ttl);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.cells?.clear();
  }
}

function slidingDecision(cell: Cell, limit: number, windowMs: number, elapsed: number, cost: number): Decision {
  const weight = (windowMs - elapsed) / windowMs;
  const used = cell.c * weight + cell.b;
  const allowed = used + cost <= limit;
  if (allowed) cell.b += cost;
  const resetMs = windowMs - elapsed;
  let retryAfterMs = 0;
  if (!allowed) {
    const room = limit - cost - cell.b;
    if (cost > limit) retryAfterMs = resetMs;
    else if (room >= 0) retryAfterMs = Math.max(1, windowMs - (room * windowMs) / cell.c - elapsed);
    else retryAfterMs = resetMs + windowMs * (1 - (limit - cost) / cell.b);
  }
  return { allowed, remaining: Math.max(0, Math.floor(limit - (allowed ? used + cost : used))), resetMs, retryAfterMs, limit };
}

function gcra(store: MemoryStore, key: string, cell: Cell, now: number, interval: number, burst: number, cost: number): Decision {
  const tat = Math.max(cell.a, now);
  const next = tat + interval * cost;
  const allowAt = next - burst * interval;
  const allowed = allowAt <= now;
  if (allowed) {
    cell.a = next;
    store.keep(key, cell, next - now);
  }
  const held = (allowed ? next : tat) - now;
  return {
    allowed,
    remaining: Math.max(0, Math.floor((burst * interval - held) / interval)),
    resetMs: Math.max(0, held),
    retryAfterMs: allowed ? 0 : cost > burst ? held : allowAt - now,
    limit: burst,
  };
}
