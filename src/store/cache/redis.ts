// Cache entries in Redis, shared by every instance. Each cache key falls in one of 64 buckets (a
// hash of the key); keys, under the store's prefix:
//   <prefix>{<bucket>}k:<cache key>  every variant of that key in one binary value (codec.ts), with
//                          PX the life of its longest-lived variant; each variant also carries its own expiry
//   <prefix>{<bucket>}t:<tag>  a SET of the cache keys of that bucket an entry of which carries the
//                          tag, expiring no sooner than the longest entry it has indexed
// The bucket, two hex digits in braces, is a Redis Cluster hash tag: an entry and the tag sets that
// index it are in one slot, so the put script that writes them together runs on a cluster too, and
// a tag's entries are spread over 64 slots (deleteTag visits the tag's set in each bucket).
// The client is set up as the rate-limit store's (src/store/redis.ts): every command has a
// timeout, no command waits for a reconnect, and the same Breaker and StoreHealth say when Redis
// is down. Every method rejects then (StoreUnavailableError) and the policy serves from the service.
//
// A put reads the key's variants, merges the new one in and writes them back with a
// compare-and-set script: it writes only if the value is still the one read (same SHA-1). When
// another put changed it meanwhile, the merge is redone (at most PUT_ATTEMPTS times, then this put
// is dropped: a later miss, never a wrong answer). Puts of one key in this process go one after
// the other, so only other instances' puts can make one retry. Accepted races: a deleteTag or deletePrefix
// running beside a put may miss the entry that put writes; a deleted or expired key stays in its
// tag sets until they expire (a later deleteTag deletes its new entry too: more is forgotten,
// never less).
import { createHash } from 'node:crypto';
import { masters, storeRedis, type StoreClient } from '../redis-client.js';
import { Breaker } from '../breaker.js';
import { CACHE_STORE, StoreHealth, type CacheStoreOp, type StoreStatus } from '../health.js';
import { StoreUnavailableError } from '../types.js';
import type { Logger } from '../../observability/logger.js';
import type { CacheEntry, CacheStats, CacheStore } from './types.js';
import { decodeVariants, encodeVariants, type StoredVariant } from './codec.js';
import { DEFAULT_MAX_VARIANTS, sameVariant } from './memory.js';

export interface RedisCacheStoreOptions {
  url: string;
  /** Put before every key this store writes (`k:` and `t:` follow it). */
  prefix: string;
  /** Each Redis command's timeout. */
  timeoutMs: number;
  /** Variants kept per key (the newest win); 16 when absent. */
  maxVariants?: number | undefined;
  /** Connect now (a data plane) or on first use (a plan compiled only to be checked). */
  connect?: boolean | undefined;
  /** Where failures and recoveries are logged. */
  log?: Logger | undefined;
  /** The label of logs, metrics and stats: never the URL itself (see storeLabel). */
  name?: string | undefined;
  /** Tests only: ms since the epoch, for the variants' expiry. */
  now?: () => number;
}

/** How often a put redoes its merge when another put changed the key meanwhile. */
const PUT_ATTEMPTS = 3;
/** Keys per SCAN / SSCAN step and per UNLINK. */
const BATCH = 500;
/** Buckets of cache keys: each is a hash tag, so one Redis Cluster slot (a power of two). */
export const BUCKETS = 64;

// KEYS (all of one bucket, so of one slot): the value, then `ARGV[4]` tag sets to add the key to, then tag sets to remove it from.
// ARGV: the SHA-1 of the value read ('' when there was none), the new value, its PX, the number of
// tag sets to add to, the cache key (the tag sets' member). 0: the value changed, nothing written.
const PUT_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
local sha = ''
if cur then sha = redis.sha1hex(cur) end
if sha ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
local adds = tonumber(ARGV[4])
for i = 2, adds + 1 do
  redis.call('SADD', KEYS[i], ARGV[5])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
for i = adds + 2, #KEYS do redis.call('SREM', KEYS[i], ARGV[5]) end
return 1
`;

type PutScript = (numKeys: number, ...args: (string | Buffer | number)[]) => Promise<number>;

export class RedisCacheStore implements CacheStore {
  readonly client: StoreClient & { ghCachePut: PutScript };
  readonly breaker = new Breaker();
  readonly health: StoreHealth;
  private readonly prefix: string;
  private readonly name: string;
  private readonly maxVariants: number;
  private readonly now: () => number;
  /** One rejection for every call the open breaker refuses. */
  private readonly unavailable: Promise<never>;
  private closing = false;
  /** The last put of each key still running in this process: the next one waits for it. */
  private readonly putting = new Map<string, Promise<void>>();

  constructor(opts: RedisCacheStoreOptions) {
    this.prefix = opts.prefix;
    this.name = opts.name ?? 'redis';
    this.maxVariants = Math.max(1, opts.maxVariants ?? DEFAULT_MAX_VARIANTS);
    this.now = opts.now ?? Date.now;
    this.health = new StoreHealth(this.name, 'redis', opts.prefix, opts.log);
    this.health.subject = CACHE_STORE;
    const client = storeRedis(opts.url, opts.timeoutMs, this.health, () => this.closing);
    client.defineCommand('ghCachePut', { lua: PUT_SCRIPT });
    this.client = client as StoreClient & { ghCachePut: PutScript };
    this.unavailable = Promise.reject(new StoreUnavailableError('cache store breaker is open'));
    this.unavailable.catch(() => {});
    if (opts.connect) client.connect().catch(() => {});
  }

  get(key: string): Promise<CacheEntry[]> {
    return this.run('get', async () => {
      const k = this.valueKey(key);
      const variants = await this.read(k);
      const now = this.now();
      return variants.filter((v) => v.expiresAt > now).map((v) => v.entry);
    });
  }

  put(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    const previous = this.putting.get(key);
    const mine = (
      previous === undefined ? this.putNow(key, entry, ttlMs) : previous.catch(() => {}).then(() => this.putNow(key, entry, ttlMs))
    ).finally(() => {
      if (this.putting.get(key) === mine) this.putting.delete(key);
    });
    this.putting.set(key, mine);
    return mine;
  }

  private putNow(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    return this.run('put', async () => {
      const k = this.valueKey(key);
      const ttl = Math.max(1, Math.ceil(ttlMs));
      for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
        const raw = await this.client.getBuffer(k);
        const old = raw === null ? [] : (decodeVariants(raw) ?? []);
        const now = this.now();
        const kept = old.filter((v) => v.expiresAt > now && !sameVariant(v.entry, entry));
        const variants: StoredVariant[] = [{ entry, expiresAt: now + ttl }, ...kept].slice(0, this.maxVariants);
        const life = variants.reduce((t, v) => Math.max(t, v.expiresAt), 0) - now;
        const tags = new Set(variants.flatMap((v) => v.entry.tags));
        const gone = new Set(old.flatMap((v) => v.entry.tags).filter((t) => !tags.has(t)));
        const keys = [k, ...[...tags, ...gone].map((t) => this.tagKey(bucket(key), t))];
        const sha = raw === null ? '' : createHash('sha1').update(raw).digest('hex');
        const value = encodeVariants(variants);
        const wrote = await this.client.ghCachePut(keys.length, ...keys, sha, value, life, tags.size, key);
        if (wrote === 1) return;
      }
      // Another instance kept changing this key: its entries stand, this one is not stored.
    });
  }

  delete(key: string): Promise<number> {
    return this.run('delete', () => this.client.unlink(this.valueKey(key)));
  }

  deletePrefix(prefix: string): Promise<number> {
    return this.run('deletePrefix', async () => {
      // Every bucket's keys: "{??}" matches any bucket (braces are not special to MATCH).
      const match = escapeGlob(this.prefix) + '{??}k:' + escapeGlob(prefix) + '*';
      const at = Buffer.byteLength(this.prefix);
      let n = 0;
      // A cluster's keys are spread over its masters: SCAN each (a SCAN sees one server's keys).
      for (const node of masters(this.client)) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scanBuffer(cursor, 'MATCH', match, 'COUNT', BATCH);
          cursor = next.toString();
          // One UNLINK per bucket: a multi-key command must stay in one slot.
          const byBucket = new Map<string, Buffer[]>();
          for (const key of keys) {
            const b = key.subarray(at, at + 4).toString('latin1');
            const list = byBucket.get(b);
            if (list) list.push(key);
            else byBucket.set(b, [key]);
          }
          for (const list of byBucket.values()) n += await this.client.unlink(...list);
        } while (cursor !== '0');
      }
      return n;
    });
  }

  deleteTag(tag: string): Promise<number> {
    return this.run('deleteTag', async () => {
      const counts = await Promise.all(Array.from({ length: BUCKETS }, (_, b) => this.deleteTagIn(b, tag)));
      return counts.reduce((a, c) => a + c, 0);
    });
  }

  /** The entries of one bucket that carry `tag`, then the bucket's set of them. */
  private async deleteTagIn(b: number, tag: string): Promise<number> {
    const t = this.tagKey(b, tag);
    const keyPrefix = Buffer.from(this.prefix + bucketTag(b) + 'k:');
    let n = 0;
    let cursor = '0';
    // SSCAN rather than SMEMBERS: a tag on a million keys is read and unlinked a batch at a time.
    do {
      const [next, members] = await this.client.sscanBuffer(t, cursor, 'COUNT', BATCH);
      cursor = next.toString();
      if (members.length > 0) n += await this.client.unlink(...members.map((m) => Buffer.concat([keyPrefix, m])));
    } while (cursor !== '0');
    await this.client.unlink(t);
    return n;
  }

  /** What this process can tell without scanning a shared Redis: nothing about its size. */
  stats(): Promise<CacheStats> {
    return Promise.resolve({ type: 'redis', store: this.name, entries: -1, bytes: -1, evictions: 0 });
  }

  status(): StoreStatus {
    return { ...this.health.status(), breaker: this.breaker.state };
  }

  /** Resolves once connected (tests; a gateway serves at once and lets the breaker cover the start). */
  ready(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    if (this.client.status === 'wait') this.client.connect().catch(() => {});
    return new Promise((resolve) => this.client.once('ready', () => resolve()));
  }

  close(): Promise<void> {
    this.closing = true;
    this.client.disconnect();
    return Promise.resolve();
  }

  private valueKey(key: string): string {
    return valueKeyName(this.prefix, key);
  }

  private tagKey(b: number, tag: string): string {
    return this.prefix + bucketTag(b) + 't:' + tag;
  }

  /** The variants stored at `k`; a value that does not decode is a miss, and is deleted. */
  private async read(k: string): Promise<StoredVariant[]> {
    const raw = await this.client.getBuffer(k);
    if (raw === null) return [];
    const variants = decodeVariants(raw);
    if (variants !== undefined) return variants;
    this.client.unlink(k).catch(() => {});
    return [];
  }

  /** `fn` with the breaker's leave, its outcome told to the breaker and the health. */
  private run<T>(op: CacheStoreOp, fn: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new StoreUnavailableError('cache store is closed'));
    if (!this.breaker.allow()) {
      this.health.failure(op, 'breaker_open', 'the breaker is open');
      return this.unavailable;
    }
    if (this.client.status === 'wait') this.client.connect().catch(() => {});
    return fn().then(
      (r) => {
        this.breaker.success();
        this.health.up();
        return r;
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        this.breaker.failure();
        this.health.failure(op, /timed out/i.test(message) ? 'timeout' : 'error', message);
        throw new StoreUnavailableError(`cache store: ${message}`);
      },
    );
  }
}

/** The bucket of a cache key: FNV-1a of its UTF-16 code units, so the same in every instance. */
export function bucket(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % BUCKETS;
}

/** The Redis key of a cache key's variants under `prefix`. */
export function valueKeyName(prefix: string, key: string): string {
  return prefix + bucketTag(bucket(key)) + 'k:' + key;
}

/** The Redis key of the set of `tag`'s cache keys in the bucket of `key`. */
export function tagKeyName(prefix: string, key: string, tag: string): string {
  return prefix + bucketTag(bucket(key)) + 't:' + tag;
}

/** `{07}`: the hash tag of bucket 7. */
export function bucketTag(b: number): string {
  return '{' + b.toString(16).padStart(2, '0') + '}';
}

/** `s` as a SCAN MATCH pattern that matches it literally. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
