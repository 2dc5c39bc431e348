// The cache stores of one data plane, kept across reloads (a reload keeps what is cached) and
// closed with it: one per distinct spec.
import type { CacheStore } from './types.js';
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

  all(): CacheStore[] {
    return [...this.stores.values()];
  }

  async close(): Promise<void> {
    const all = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(all.map((s) => s.close().catch(() => undefined)));
  }
}
