// The cache stores of one data plane, kept across reloads (a reload keeps what is cached) and
// closed with it: one per distinct spec.
import type { CacheStats, CacheStore } from './types.js';
import { MemoryCacheStore } from './memory.js';
import { RedisCacheStore } from './redis.js';
import { storeLabel } from '../label.js';
import type { StoreHealth, StoreStatus } from '../health.js';
import type { Logger } from '../../observability/logger.js';

export type CacheStoreSpec =
  | { type: 'memory'; maxBytes: number; maxVariants?: number }
  | { type: 'redis'; url: string; prefix: string; timeoutMs: number; maxVariants?: number };

export interface CacheStoreRegistryOptions {
  /** A serving data plane: Redis stores connect at once rather than on first use. */
  live?: boolean | undefined;
  /** Where a Redis store's failures and recoveries are logged. */
  log?: Logger | undefined;
}

export class CacheStoreRegistry {
  private readonly stores = new Map<string, CacheStore>();

  constructor(private readonly opts: CacheStoreRegistryOptions = {}) {}

  get(spec: CacheStoreSpec): CacheStore {
    const id = specId(spec);
    let store = this.stores.get(id);
    if (store === undefined) {
      store =
        spec.type === 'redis'
          ? new RedisCacheStore({
              url: spec.url,
              prefix: spec.prefix,
              timeoutMs: spec.timeoutMs,
              maxVariants: spec.maxVariants,
              connect: this.opts.live,
              log: this.opts.log,
              // The label of its logs, metrics and stats: the URL without its credentials.
              name: storeLabel({ url: spec.url }),
            })
          : new MemoryCacheStore({ maxBytes: spec.maxBytes, maxVariants: spec.maxVariants });
      this.stores.set(id, store);
    }
    return store;
  }

  /** Every store's stats (a store that cannot tell — Redis down — is left out). */
  async stats(): Promise<CacheStats[]> {
    const all = await Promise.allSettled([...this.stores.values()].map((s) => s.stats()));
    return all.filter((r): r is PromiseFulfilledResult<CacheStats> => r.status === 'fulfilled').map((r) => r.value);
  }

  /** Forgets, in every store, the key, the keys with the prefix, or those tagged: how many keys went. */
  async purge(by: { key?: string | undefined; prefix?: string | undefined; tag?: string | undefined }): Promise<number> {
    let n = 0;
    for (const s of this.stores.values()) {
      if (by.key !== undefined) n += await s.delete(by.key);
      else if (by.prefix !== undefined) n += await s.deletePrefix(by.prefix);
      else if (by.tag !== undefined) n += await s.deleteTag(by.tag);
    }
    return n;
  }

  /** The Redis stores' health, for metrics and the admin API (a memory store never fails). */
  health(): StoreHealth[] {
    const out: StoreHealth[] = [];
    for (const s of this.stores.values()) if (s instanceof RedisCacheStore) out.push(s.health);
    return out;
  }

  /** The Redis stores' states, for GET /ready (a memory store never fails). */
  statuses(): StoreStatus[] {
    const out: StoreStatus[] = [];
    for (const s of this.stores.values()) if (s instanceof RedisCacheStore) out.push(s.status());
    return out;
  }

  all(): CacheStore[] {
    return [...this.stores.values()];
  }

  async close(): Promise<void> {
    const all = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(all.map((s) => s.close().catch(() => undefined)));
  }
}

/** One store per distinct spec, whatever the order of its fields (and maxVariants 16 when absent). */
function specId(spec: CacheStoreSpec): string {
  const variants = spec.maxVariants ?? 16;
  return spec.type === 'redis'
    ? JSON.stringify(['redis', spec.url, spec.prefix, spec.timeoutMs, variants])
    : JSON.stringify(['memory', spec.maxBytes, variants]);
}
