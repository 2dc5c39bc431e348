// Cache entries in this process's memory, bounded in bytes (lru-cache's maxSize): per process,
// so each worker of an instance has its own (sharing would copy every body between processes;
// the Redis store is the shared one).
//
// One LRU item per cache key holds all its variants. Each variant keeps its own expiry (the
// `ttlMs` of its put): a get never returns a variant past it, and the item's own TTL is that of its
// longest-lived variant. Entries are copied on put and frozen: what get returns is shared by every
// hit and read-only by contract (a frozen object throws on assignment in strict mode; the body
// Buffer cannot be frozen, so its bytes are read-only by contract alone).
import { LRUCache } from 'lru-cache';
import type { CacheEntry, CacheStats, CacheStore } from './types.js';

export interface MemoryCacheStoreOptions {
  /** The bound of everything held: bodies, fields and a fixed overhead per variant. */
  maxBytes: number;
  /** Variants kept per key (the newest win); 16 when absent. */
  maxVariants?: number | undefined;
  /** Tests only: ms since the epoch, for the variants' expiry. */
  now?: () => number;
}

/** What a variant costs besides its body and fields (its objects, arrays and the LRU's own). */
export const ENTRY_OVERHEAD = 256;

export const DEFAULT_MAX_VARIANTS = 16;

interface Variant {
  entry: CacheEntry;
  expiresAt: number;
  size: number;
}

export class MemoryCacheStore implements CacheStore {
  private readonly lru: LRUCache<string, Variant[]>;
  /** tag -> the keys an entry of which carries it; kept in step by put and by lru-cache's dispose. */
  private readonly tagIndex = new Map<string, Set<string>>();
  /**
   * The part of each key up to its first `#` (the target URI, or a start of it) -> the keys. Every
   * unsafe request a cached route answers with success deletes its URI's keys (RFC 9111 §4.4):
   * scanning the whole store for them would let any client who may POST spend the data plane's
   * CPU on a full scan per request.
   */
  private readonly uriIndex = new Map<string, Set<string>>();
  private readonly maxVariants: number;
  private readonly now: () => number;
  private evictions = 0;

  constructor(opts: MemoryCacheStoreOptions) {
    this.maxVariants = Math.max(1, opts.maxVariants ?? DEFAULT_MAX_VARIANTS);
    this.now = opts.now ?? Date.now;
    this.lru = new LRUCache<string, Variant[]>({
      maxSize: Math.max(1, Math.floor(opts.maxBytes)),
      sizeCalculation: (variants, key) => variants.reduce((n, v) => n + v.size, key.length),
      // A replaced item ('set') was unindexed by put already; an item dropped for room, expired or
      // deleted leaves the index here, whichever way it went.
      dispose: (variants, key, reason) => {
        if (reason === 'evict') this.evictions++;
        if (reason !== 'set') {
          this.unindex(key, variants);
          const uri = uriOf(key);
          const keys = this.uriIndex.get(uri);
          if (keys !== undefined && keys.delete(key) && keys.size === 0) this.uriIndex.delete(uri);
        }
      },
    });
  }

  get(key: string): Promise<CacheEntry[]> {
    const variants = this.lru.get(key);
    if (variants === undefined) return Promise.resolve([]);
    const now = this.now();
    const out: CacheEntry[] = [];
    for (const v of variants) if (v.expiresAt > now) out.push(v.entry);
    return Promise.resolve(out);
  }

  put(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    const now = this.now();
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const fresh: Variant = { entry: frozenCopy(entry), expiresAt: now + ttl, size: variantSize(entry) };
    const old = this.lru.get(key, { updateAgeOnGet: false, allowStale: false }) ?? [];
    const kept = old.filter((v) => v.expiresAt > now && !sameVariant(v.entry, entry));
    const variants = [fresh, ...kept].slice(0, this.maxVariants);
    const until = variants.reduce((t, v) => Math.max(t, v.expiresAt), 0);
    if (old.length > 0) this.unindex(key, old);
    this.lru.set(key, variants, { ttl: until - now });
    // Larger than the whole store: lru-cache kept nothing (and dropped what was there).
    if (!this.lru.has(key)) return Promise.resolve();
    const uri = uriOf(key);
    const keys = this.uriIndex.get(uri);
    if (keys === undefined) this.uriIndex.set(uri, new Set([key]));
    else keys.add(key);
    for (const v of variants)
      for (const t of v.entry.tags) {
        const keys = this.tagIndex.get(t);
        if (keys === undefined) this.tagIndex.set(t, new Set([key]));
        else keys.add(key);
      }
    return Promise.resolve();
  }

  delete(key: string): Promise<number> {
    return Promise.resolve(this.lru.delete(key) ? 1 : 0);
  }

  deletePrefix(prefix: string): Promise<number> {
    let n = 0;
    // keys() is a live iterator: collect first, then delete.
    const matching: string[] = [];
    // A prefix with a `#` has all its keys under one index entry; one without (an admin's
    // `GET api.example.com/users/`) is looked for in every key.
    const candidates = prefix.includes('#') ? (this.uriIndex.get(uriOf(prefix)) ?? []) : this.lru.keys();
    for (const key of candidates) if (key.startsWith(prefix)) matching.push(key);
    for (const key of matching) if (this.lru.delete(key)) n++;
    return Promise.resolve(n);
  }

  deleteTag(tag: string): Promise<number> {
    const keys = this.tagIndex.get(tag);
    if (keys === undefined) return Promise.resolve(0);
    let n = 0;
    for (const key of [...keys]) if (this.lru.delete(key)) n++;
    this.tagIndex.delete(tag);
    return Promise.resolve(n);
  }

  stats(): Promise<CacheStats> {
    return Promise.resolve({
      type: 'memory',
      store: 'memory',
      entries: this.lru.size,
      bytes: this.lru.calculatedSize,
      evictions: this.evictions,
    });
  }

  close(): Promise<void> {
    this.lru.clear();
    this.tagIndex.clear();
    this.uriIndex.clear();
    return Promise.resolve();
  }

  private unindex(key: string, variants: readonly Variant[]): void {
    for (const v of variants)
      for (const t of v.entry.tags) {
        const keys = this.tagIndex.get(t);
        if (keys === undefined) continue;
        keys.delete(key);
        if (keys.size === 0) this.tagIndex.delete(t);
      }
  }
}

/** A key up to and including its first `#` (the whole key when it has none). */
function uriOf(key: string): string {
  const i = key.indexOf('#');
  return i === -1 ? key : key.slice(0, i + 1);
}

/** Same Vary names and values: the new variant replaces the old one. */
export function sameVariant(a: CacheEntry, b: CacheEntry): boolean {
  if (a.vary.length !== b.vary.length || a.varyValues.length !== b.varyValues.length) return false;
  for (let i = 0; i < a.vary.length; i++) if (a.vary[i] !== b.vary[i] || a.varyValues[i] !== b.varyValues[i]) return false;
  return true;
}

function variantSize(e: CacheEntry): number {
  let n = ENTRY_OVERHEAD + e.response.body.length;
  for (const h of e.response.headers) n += h.length;
  for (const t of e.response.trailers ?? []) n += t.length;
  for (const t of e.tags) n += t.length;
  for (const v of e.vary) n += v.length;
  for (const v of e.varyValues) n += v?.length ?? 0;
  return n;
}

/** A copy the caller cannot change afterwards (its own arrays and Buffer stay its own). */
function frozenCopy(e: CacheEntry): CacheEntry {
  const r = e.response;
  const response: CacheEntry['response'] = {
    status: r.status,
    headers: Object.freeze([...r.headers]) as string[],
    body: Buffer.from(r.body), // a copy, never a view of the caller's (possibly pooled) memory
  };
  if (r.trailers !== undefined) response.trailers = Object.freeze([...r.trailers]) as string[];
  return Object.freeze({
    response: Object.freeze(response),
    requestTime: e.requestTime,
    responseTime: e.responseTime,
    vary: Object.freeze([...e.vary]) as string[],
    varyValues: Object.freeze([...e.varyValues]) as (string | null)[],
    tags: Object.freeze([...e.tags]) as string[],
  });
}
