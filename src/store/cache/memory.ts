// Cache entries in this process's memory, bounded in bytes (lru-cache's maxSize): per process,
// so each worker of an instance has its own (sharing would copy every body between processes;
// the Redis store is the shared one).
import { LRUCache } from 'lru-cache';
import type { CacheEntry, CacheStats, CacheStore } from './types.js';

export interface MemoryCacheStoreOptions {
  maxBytes: number;
  maxVariants?: number;
}

/** Bytes an entry costs besides its body and fields (objects, arrays, the key). */
const OVERHEAD = 256;

export class MemoryCacheStore implements CacheStore {
  private readonly lru: LRUCache<string, CacheEntry[]>;
  private readonly tagIndex = new Map<string, Set<string>>();
  private readonly maxVariants: number;
  private evictions = 0;

  constructor(opts: MemoryCacheStoreOptions) {
    this.maxVariants = opts.maxVariants ?? 16;
    this.lru = new LRUCache<string, CacheEntry[]>({
      maxSize: Math.max(1, opts.maxBytes),
      sizeCalculation: (variants, key) => Math.max(1, key.length + variants.reduce((n, e) => n + entrySize(e), 0)),
      ttlAutopurge: false,
      dispose: (variants, key, reason) => {
        if (reason === 'evict') this.evictions++;
        if (reason !== 'set') this.unindex(key, variants);
      },
    });
  }

  get(key: string): Promise<CacheEntry[]> {
    return Promise.resolve(this.lru.get(key) ?? []);
  }

  put(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    const old = this.lru.get(key, { updateAgeOnGet: false }) ?? [];
    const same = (e: CacheEntry) =>
      e.vary.length === entry.vary.length && e.vary.every((n, i) => n === entry.vary[i] && e.varyValues[i] === entry.varyValues[i]);
    const variants = [entry, ...old.filter((e) => !same(e))].slice(0, this.maxVariants);
    if (old.length > 0) this.unindex(key, old);
    this.lru.set(key, variants, { ttl: Math.max(1, Math.ceil(ttlMs)) });
    if (!this.lru.has(key)) return Promise.resolve(); // larger than the whole store: not kept
    for (const e of variants)
      for (const t of e.tags) {
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
    for (const key of [...this.lru.keys()]) if (key.startsWith(prefix) && this.lru.delete(key)) n++;
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
    return Promise.resolve();
  }

  private unindex(key: string, variants: readonly CacheEntry[]): void {
    for (const e of variants)
      for (const t of e.tags) {
        const keys = this.tagIndex.get(t);
        if (keys === undefined) continue;
        keys.delete(key);
        if (keys.size === 0) this.tagIndex.delete(t);
      }
  }
}

function entrySize(e: CacheEntry): number {
  let n = OVERHEAD + e.response.body.length;
  for (const h of e.response.headers) n += h.length;
  for (const t of e.response.trailers ?? []) n += t.length;
  for (const t of e.tags) n += t.length;
  return n;
}
