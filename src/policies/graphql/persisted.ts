// Persisted operations for the `graphql` policy: automatic persisted queries (Apollo's protocol,
// version 1: `extensions.persistedQuery.sha256Hash`) or an allow list where only registered
// operations run. The policy calls `resolve` with a request's parameters before it parses the
// document: the answer is the parameters to check and forward (the document filled in when the
// request carried only its hash), or the refusal's code.
//
// Ids are the SHA-256 of a document's exact text (lower-case hex, as Apollo's clients send them);
// nothing is normalised: a document that differs by one space is another document.
//
// APQ: a hash alone is looked up (registered operations, then the memory cache, then Redis with
// `store: redis`); a hash with its document is checked (SHA-256) and, once the policy has found the
// document acceptable, remembered through the `register` callback of the answer — so a document the
// policy refuses (too deep, not parsing) never takes a place in the cache. Redis is a second level
// shared by instances: a failing Redis is a miss (the client sends the document again), and a
// document read from it is checked against its hash before it is used (Redis is shared: whoever
// else writes under the prefix is not trusted to have hashed).
import { LRUCache } from 'lru-cache';
import type { ErrorCode } from '../../errors.js';
import type { GraphQLParams } from '../../graphql/request.js';
import type { CacheEntry, CacheStore } from '../../store/cache/types.js';
import { parseDuration, parseSize } from '../../config/units.js';
import { section, type PolicyEnv, type PolicyIssue } from '../types.js';
import { readManifest, type PersistedOperation } from './persisted-manifest.js';
import {
  MAX_OPERATION_CHARS,
  OPERATIONS_SECTION,
  SHA256_HEX,
  sha256Hex,
  type PersistedConfig,
  type RegisteredOperationConfig,
} from './persisted-schema.js';

export type PersistedResolution =
  | {
      ok: true;
      /** The parameters to check and forward: `query` always set, `extensions.persistedQuery` removed. */
      params: GraphQLParams;
      /**
       * Re-serialise the body (or query string) for the service: the parameters differ from the
       * request's, or (an allow list) only what was checked may reach the service.
       */
      rewritten: boolean;
      /**
       * APQ: the request registered a document (hash and query, verified). Call it once the policy
       * has accepted the document (parsed, within its limits): only then is it remembered. Never throws.
       */
      register?: (() => void) | undefined;
    }
  | { ok: false; code: ErrorCode; message?: string | undefined };

export interface Persisted {
  resolve(params: GraphQLParams): Promise<PersistedResolution>;
  /** How many operations are registered (manifest and `graphqlOperations`): tests and diagnostics. */
  readonly registeredCount: number;
  close(): void;
}

/** Documents a Redis store keeps for APQ live under `<store.prefix>apq:`. */
export const APQ_PREFIX = 'apq:';

/**
 * The `validate` hook's part for `persisted` (`at`: the policy entry's path): a manifest that cannot
 * be read or is not valid is a config error naming the file and the reason.
 */
export function persistedIssues(config: PersistedConfig | undefined, at: string): PolicyIssue[] {
  if (config?.manifest === undefined) return [];
  const read = readManifest(config.manifest);
  return read.ok ? [] : [{ path: `${at}.persisted.manifest`, message: read.reason }];
}

/**
 * The persisted-operations step of a `graphql` policy. Throws (a config error) when the manifest
 * cannot be read or `store: redis` has no Redis: `validate` reports both first (persistedIssues).
 */
export function createPersisted(config: PersistedConfig, env: PolicyEnv): Persisted {
  const registered = new Map<string, string>();
  if (config.manifest !== undefined) {
    const read = readManifest(config.manifest);
    if (!read.ok) throw new Error(`persisted.manifest: ${read.reason}`);
    addAll(registered, read.operations);
  }
  const listed = section<RegisteredOperationConfig[] | undefined>(env.config, OPERATIONS_SECTION) ?? [];
  addAll(
    registered,
    listed.map((op) => ({ id: op.id ?? sha256Hex(op.body), body: op.body })),
  );
  if (config.mode === 'allowList') return new AllowList(registered, config.requireId);
  return new Apq(registered, config, env);
}

function addAll(into: Map<string, string>, ops: readonly PersistedOperation[]): void {
  for (const op of ops) into.set(op.id, op.body);
}

/** What the `persistedQuery` extension says, or why it cannot be read. */
type Extension = { hash: string } | { problem: string } | undefined;

function readExtension(params: GraphQLParams): Extension {
  const pq = params.extensions?.persistedQuery;
  if (pq === undefined) return undefined;
  if (pq === null || typeof pq !== 'object' || Array.isArray(pq)) return { problem: 'extensions.persistedQuery is not an object' };
  const { version, sha256Hash } = pq as Record<string, unknown>;
  if (version !== 1) {
    // Only a short scalar is echoed: the value is the client's, of any size or shape.
    const shown =
      typeof version === 'number' || (typeof version === 'string' && version.length <= 20) ? JSON.stringify(version) : undefined;
    return {
      problem: `persisted query version ${shown ?? (version === undefined ? 'absent' : 'given')} is not supported (only version 1)`,
    };
  }
  if (typeof sha256Hash !== 'string' || !SHA256_HEX.test(sha256Hash.toLowerCase()))
    return { problem: 'extensions.persistedQuery.sha256Hash is not a SHA-256 in hex (64 digits)' };
  return { hash: sha256Hash.toLowerCase() };
}

/** The parameters without `extensions.persistedQuery` (and without `extensions` when nothing else is left). */
function withoutExtension(params: GraphQLParams, query: string): GraphQLParams {
  const rest = { ...params.extensions };
  delete rest.persistedQuery;
  return { ...params, query, extensions: Object.keys(rest).length > 0 ? rest : undefined };
}

const NO_QUERY = 'the request has neither a query nor a persisted query hash';

function refuse(code: ErrorCode, message?: string): PersistedResolution {
  return { ok: false, code, message };
}

class AllowList implements Persisted {
  constructor(
    private readonly registered: ReadonlyMap<string, string>,
    private readonly requireId: boolean,
  ) {}

  get registeredCount(): number {
    return this.registered.size;
  }

  resolve(params: GraphQLParams): Promise<PersistedResolution> {
    return Promise.resolve(this.decide(params));
  }

  private decide(params: GraphQLParams): PersistedResolution {
    const ext = readExtension(params);
    if (ext !== undefined && 'problem' in ext) return refuse('GW_GRAPHQL_BAD_REQUEST', ext.problem);
    if (ext === undefined) {
      if (params.query === undefined) return refuse('GW_GRAPHQL_BAD_REQUEST', NO_QUERY);
      if (this.requireId)
        return refuse(
          'GW_GRAPHQL_OPERATION_NOT_ALLOWED',
          'this route runs registered operations by id only: send extensions.persistedQuery.sha256Hash, not the document',
        );
      if (!this.registered.has(sha256Hex(params.query))) return refuse('GW_GRAPHQL_OPERATION_NOT_ALLOWED');
      // Forwarded as read, never as sent: a service parsing the body its own way (the first of
      // duplicate keys, a top-level `id` or `documentId`) must not find another operation in it.
      return { ok: true, params, rewritten: true };
    }
    if (params.query !== undefined) {
      if (sha256Hex(params.query) !== ext.hash) return refuse('GW_GRAPHQL_PERSISTED_QUERY_MISMATCH');
      // The document is the registered one: it runs. Anything else would be a client registering
      // an operation, which an allow list never lets it do.
      if (!this.registered.has(ext.hash))
        return refuse(
          'GW_GRAPHQL_OPERATION_NOT_ALLOWED',
          'this route runs registered operations only: clients cannot register one (automatic persisted queries are off)',
        );
      return { ok: true, params: withoutExtension(params, params.query), rewritten: true };
    }
    const body = this.registered.get(ext.hash);
    if (body === undefined) return refuse('GW_GRAPHQL_OPERATION_NOT_ALLOWED', 'no operation is registered with this id');
    return { ok: true, params: withoutExtension(params, body), rewritten: true };
  }

  close(): void {}
}

class Apq implements Persisted {
  private readonly memory: LRUCache<string, string>;
  private readonly redis: CacheStore | undefined;
  private readonly ttlMs: number;
  /** The hashes whose Redis write has not finished: each is written once at a time. */
  private readonly writing = new Set<string>();
  /** Redis failed and the failure is logged: logged again only after it answered once more. */
  private redisDown = false;

  constructor(
    private readonly registered: ReadonlyMap<string, string>,
    config: PersistedConfig,
    private readonly env: PolicyEnv,
  ) {
    this.memory = memoryCache(env, config.maxEntries, Math.max(1, parseSize(config.maxSize)));
    this.ttlMs = Math.max(1000, parseDuration(config.ttl));
    this.redis = config.store === 'redis' ? redisStore(env) : undefined;
  }

  get registeredCount(): number {
    return this.registered.size;
  }

  async resolve(params: GraphQLParams): Promise<PersistedResolution> {
    const ext = readExtension(params);
    if (ext === undefined)
      return params.query === undefined ? refuse('GW_GRAPHQL_BAD_REQUEST', NO_QUERY) : { ok: true, params, rewritten: false };
    if ('problem' in ext) return refuse('GW_GRAPHQL_BAD_REQUEST', ext.problem);
    const hash = ext.hash;
    if (params.query !== undefined) {
      if (sha256Hex(params.query) !== hash) return refuse('GW_GRAPHQL_PERSISTED_QUERY_MISMATCH');
      const query = params.query;
      const known = this.registered.has(hash);
      return {
        ok: true,
        params: withoutExtension(params, query),
        rewritten: true,
        register: known ? undefined : () => this.remember(hash, query),
      };
    }
    const body = this.registered.get(hash) ?? this.memory.get(hash) ?? (await this.fromRedis(hash));
    if (body === undefined) return refuse('GW_GRAPHQL_PERSISTED_QUERY_NOT_FOUND');
    return { ok: true, params: withoutExtension(params, body), rewritten: true };
  }

  private remember(hash: string, query: string): void {
    if (query.length > MAX_OPERATION_CHARS) return;
    // Already here (a client that always sends its document, many requests at once): it was
    // written when it came. Writing it again per request would queue a Redis write each (the
    // store runs the puts of a key one after the other), a queue a client could grow without end.
    if (this.memory.has(hash)) return;
    this.memory.set(hash, query);
    // A document too large for the memory cache: one write at a time all the same.
    if (this.redis === undefined || this.writing.has(hash)) return;
    this.writing.add(hash);
    const now = Date.now();
    const entry: CacheEntry = {
      response: { status: 200, headers: [], body: Buffer.from(query, 'utf8') },
      requestTime: now,
      responseTime: now,
      vary: [],
      varyValues: [],
      tags: [],
    };
    this.redis
      .put(hash, entry, this.ttlMs)
      .then(
        () => this.redisAnswered(),
        (err: unknown) => this.redisFailed(err),
      )
      .finally(() => this.writing.delete(hash));
  }

  private async fromRedis(hash: string): Promise<string | undefined> {
    if (this.redis === undefined) return undefined;
    let entries: CacheEntry[];
    try {
      entries = await this.redis.get(hash);
    } catch (err) {
      this.redisFailed(err);
      return undefined;
    }
    this.redisAnswered();
    for (const e of entries) {
      const body = e.response.body;
      if (body.length > MAX_OPERATION_CHARS * 4) continue;
      const doc = body.toString('utf8');
      if (doc.length > MAX_OPERATION_CHARS || sha256Hex(doc) !== hash) continue;
      this.memory.set(hash, doc);
      return doc;
    }
    return undefined;
  }

  private redisFailed(err: unknown): void {
    if (this.redisDown) return;
    this.redisDown = true;
    this.env.log.warn(
      { route: this.env.routeName, err: err instanceof Error ? err.message : String(err) },
      "graphql persisted queries: the Redis store failed; documents are kept in this process's memory until it answers again",
    );
  }

  private redisAnswered(): void {
    if (!this.redisDown) return;
    this.redisDown = false;
    this.env.log.info({ route: this.env.routeName }, 'graphql persisted queries: the Redis store answers again');
  }

  close(): void {
    // Both caches outlive this config: the memory one is the next config's (same route, same
    // bounds), the Redis store the data plane's.
  }
}

/**
 * The memory caches of one data plane, by route and bounds: a reload (every admin edit is one)
 * keeps what clients registered, or every APQ client would have to register again at once. They
 * go with the data plane's StoreRegistry; a route that is gone leaves its cache until
 * MAX_MEMORY_CACHES newer ones push it out.
 */
const memoryCaches = new WeakMap<object, Map<string, LRUCache<string, string>>>();
const MAX_MEMORY_CACHES = 1000;

function memoryCache(env: PolicyEnv, maxEntries: number, maxBytes: number): LRUCache<string, string> {
  let caches = memoryCaches.get(env.stores);
  if (caches === undefined) memoryCaches.set(env.stores, (caches = new Map<string, LRUCache<string, string>>()));
  const key = JSON.stringify([env.routeName ?? null, maxEntries, maxBytes]);
  let cache = caches.get(key);
  if (cache === undefined) {
    cache = new LRUCache<string, string>({
      max: maxEntries,
      maxSize: maxBytes,
      // The key is 64 bytes; the document is counted in UTF-8 bytes.
      sizeCalculation: (doc) => 64 + Buffer.byteLength(doc, 'utf8'),
    });
    if (caches.size >= MAX_MEMORY_CACHES) caches.delete(caches.keys().next().value!);
  } else caches.delete(key); // re-inserted below: the newest in use is the last to go
  caches.set(key, cache);
  return cache;
}

/** The data plane's Redis cache store for APQ documents: the top-level store's Redis, under its prefix. */
function redisStore(env: PolicyEnv): CacheStore {
  const top = env.config.store;
  if (top.type !== 'redis' || top.url === undefined)
    throw new Error('persisted.store: redis needs the top-level store to be Redis (store.type: redis, store.url)');
  return env.stores.cache.get({ type: 'redis', url: top.url, prefix: `${top.prefix}${APQ_PREFIX}`, timeoutMs: parseDuration(top.timeout) });
}
