// The cache stores of one data plane, kept across reloads (a reload keeps what is cached) and
// closed with it: one per distinct spec.
import type { CacheStats, CacheStore } from './types.js';
import { MemoryCacheStore } from './memory.js';

export type CacheStoreSpec =
  | { type: 'memory'; maxBytes: number; maxVariants?: number }
  | { type: 'redis'; url: string; prefix: string; timeoutMs: number; maxVariants?: number };

export class CacheStoreRegistry {
  private readonly stores = new Map<string, CacheStore>();

  get(spec: CacheStoreSpec): CacheStore {
    const id = JSON.stringify(spec);
    let store = this.stores.get(id);
    if (store === undefined) {
      if (spec.type === 'redis') throw new Error('the Redis cache store is not built yet');
      store = new MemoryCacheStore(spec);
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

  all(): CacheStore[] {
    return [...this.stores.values()];
  }

  async close(): Promise<void> {
    const all = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(all.map((s) => s.close().catch(() => undefined)));
  }
}
