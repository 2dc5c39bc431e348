// The stores of one data plane, shared by every plan it compiles: a reload keeps the counts.
// Stores are created on first request from a policy and closed with the data plane.
import { parseDuration } from '../config/units.js';
import type { Logger } from '../observability/logger.js';
import type { StoreHealth, StoreStatus } from './health.js';
import { IpcStore } from './ipc.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { StoreConfig } from '../config/store-schema.js';
import type { Clock, RateStore } from './types.js';
import { CacheStoreRegistry } from './cache/registry.js';
import { storeLabel } from './label.js';

// Where it always was; it lives in label.ts so that the cache stores can use it without a cycle.
export { storeLabel };

export interface StoreRegistryOptions {
  /** A serving data plane (connects at once) rather than a plan compiled only to be checked. */
  live?: boolean;
  /** A cluster worker: memory-store decisions are made by the primary. */
  clusterWorker?: boolean;
  clock?: Clock;
  /** Where a store's failures and recoveries are logged. */
  log?: Logger;
}

export class StoreRegistry {
  private readonly stores = new Map<string, RateStore>();
  private readonly locals = new Map<string, MemoryStore>();
  /** The cache policies' stores (src/store/cache/), kept across reloads too. */
  readonly cache: CacheStoreRegistry;
  /** In-flight counts of concurrency-limit policies, kept across reloads. */
  readonly inflight = new Map<string, number>();
  private readonly started = new Date().toISOString();

  constructor(readonly opts: StoreRegistryOptions = {}) {
    this.cache = new CacheStoreRegistry({ live: opts.live, log: opts.log });
  }

  /** The store for `cfg`; one per distinct store config. */
  get(cfg: StoreConfig): RateStore {
    const id = storeId(cfg);
    let store = this.stores.get(id);
    if (!store) {
      if (cfg.type === 'redis') {
        store = new RedisStore({
          url: cfg.url!,
          prefix: cfg.prefix,
          timeoutMs: parseDuration(cfg.timeout),
          connect: this.opts.live,
          log: this.opts.log,
          name: storeLabel(cfg),
          clock: this.opts.clock,
        });
      } else if (this.opts.clusterWorker) {
        // The primary answers in microseconds unless it is busy (a reload, the admin API): a floor of
        // 1 s keeps a busy moment from failing decisions, and still bounds the wait.
        store = new IpcStore(cfg.prefix, cfg.maxKeys, Math.max(parseDuration(cfg.timeout), 1000), this.opts.log);
      } else {
        store = new MemoryStore({ maxKeys: cfg.maxKeys, clock: this.opts.clock });
      }
      this.stores.set(id, store);
    }
    return store;
  }

  /** The in-process fallback for `onStoreError: local`. */
  local(cfg: StoreConfig): MemoryStore {
    const id = storeId(cfg);
    let store = this.locals.get(id);
    if (!store) this.locals.set(id, (store = new MemoryStore({ maxKeys: cfg.maxKeys, clock: this.opts.clock })));
    return store;
  }

  /** Every store's state, for the admin API (a memory store in this process never fails). */
  status(): StoreStatus[] {
    const own = [...this.stores.values()].map((s): StoreStatus =>
      s instanceof RedisStore || s instanceof IpcStore
        ? s.status()
        : { store: 'memory', type: 'memory', state: 'up', since: this.started, failedDecisions: 0 },
    );
    // The cache policies' Redis stores too: GET /ready lists every store that can fail.
    return [...own, ...this.cache.statuses()];
  }

  /** The stores that can fail, for the metrics. */
  health(): StoreHealth[] {
    const out: StoreHealth[] = [];
    for (const s of this.stores.values()) if (s instanceof RedisStore || s instanceof IpcStore) out.push(s.health);
    out.push(...this.cache.health());
    return out;
  }

  async close(): Promise<void> {
    const all = [...this.stores.values(), ...this.locals.values(), this.cache];
    this.stores.clear();
    this.locals.clear();
    await Promise.all(
      all.map(async (s) => {
        try {
          await s.close();
        } catch {
          /* closing anyway */
        }
      }),
    );
  }
}

function storeId(cfg: StoreConfig): string {
  return `${cfg.type}|${cfg.url ?? ''}|${cfg.prefix}|${cfg.timeout}|${cfg.maxKeys}`;
}
