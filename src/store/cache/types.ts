// Where the cache policy (src/policies/cache/) keeps responses: a store holds, per cache key, the
// stored variants of that key (one per combination of the request fields its Vary names). The
// policy decides what may be stored and what is fresh (RFC 9111); a store only keeps, finds and
// forgets. Implementations: memory (per process, bounded in bytes) and Redis (shared by instances).

/** A response as the service sent it (hop-by-hop fields already removed), body whole. */
export interface StoredResponse {
  status: number;
  /** [name, value, name, value, …] as received. */
  headers: string[];
  body: Buffer;
  /** Trailer fields, [name, value, …]; absent when none. */
  trailers?: string[] | undefined;
}

/** One stored variant of a cache key, with what freshness and selection need. */
export interface CacheEntry {
  response: StoredResponse;
  /** When the request that got it was sent upstream, and when its head came back (ms since the epoch). */
  requestTime: number;
  responseTime: number;
  /**
   * The request fields the response's Vary names (lower case) and their values in the request that
   * got it (null: absent), in the order of `vary`; empty when it has no Vary.
   */
  vary: string[];
  varyValues: (string | null)[];
  /** Surrogate keys from `Surrogate-Key` / `Cache-Tag`, for DELETE /cache by tag. */
  tags: string[];
}

export interface CacheStats {
  /** `memory` or `redis`. */
  type: string;
  /** A label for logs and metrics (a Redis URL without credentials). */
  store: string;
  /** Keys and bytes held (for Redis: what this process can tell without scanning; -1 when unknown). */
  entries: number;
  bytes: number;
  /** Entries dropped to make room (memory), since the store was made. */
  evictions: number;
}

/**
 * A cache store. Every method may reject (a Redis outage): the policy treats that as a miss and
 * serves from the service (`onStoreError`). `ttlMs` is how long the store keeps an entry at most
 * (its freshness plus the time it may still be served stale or revalidated); after it the entry may
 * be gone. A key holds at most `maxVariants` entries (the newest win).
 */
export interface CacheStore {
  /** The stored variants of `key` (empty when none). */
  get(key: string): Promise<CacheEntry[]>;
  /** Stores `entry` under `key`, replacing a variant with the same Vary names and values. */
  put(key: string, entry: CacheEntry, ttlMs: number): Promise<void>;
  /** Forgets `key` and all its variants; how many keys went (0 or 1). */
  delete(key: string): Promise<number>;
  /** Forgets every key starting with `prefix`; how many went. */
  deletePrefix(prefix: string): Promise<number>;
  /** Forgets every key an entry of which carries `tag`; how many went. */
  deleteTag(tag: string): Promise<number>;
  stats(): Promise<CacheStats>;
  close(): Promise<void>;
}
