// The ioredis client of a shared store (rate-limit counters, cached responses, analytics),
// configured once for all: every call has a timeout, and a store that is down fails calls at once
// rather than queueing them. Only the first connection queues calls (each still bounded by the
// timeout); once connected, a call never waits for a reconnect — it fails and the caller's outage
// policy answers. ioredis reconnects on its own; the health says the store is down (a dead port is
// known before any call) and, on 'ready', that it is back.
//
// The URL picks the client (config/redis-url.ts): one server, the master Sentinel names (re-asked
// after a failover), or a Redis Cluster (commands routed by slot, MOVED/ASK followed). Every
// multi-key command, script and pipeline of the stores keeps its keys in one slot
// (docs/configuration.md, "Keys on a Redis Cluster"), so the same code runs on all three.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { StoreHealth } from './health.js';
import { parseRedisUrl } from '../config/redis-url.js';

/** A client of any of the three forms; both classes carry the same commands. */
export type StoreClient = Redis | Cluster;

/** A client for `url` with `opts` (connection options of one node), not yet connected. */
export function redisClient(url: string, opts: RedisOptions): StoreClient {
  const target = parseRedisUrl(url);
  if ('error' in target) throw new Error(`store url: ${target.error}`);
  if (target.mode === 'single') return new Redis(url, opts);
  const auth: RedisOptions = {};
  if (target.username !== undefined) auth.username = target.username;
  if (target.password !== undefined) auth.password = target.password;
  if (target.mode === 'sentinel') {
    // failoverDetector: the sentinels tell of a new master at once, rather than on the next error.
    // A READONLY reply means the server was demoted before we heard of it: reconnect (asking the
    // sentinels again) without resending — that call fails, and its caller's outage policy answers.
    return new Redis({
      ...opts,
      ...auth,
      sentinels: target.sentinels,
      name: target.name,
      db: target.db,
      failoverDetector: true,
      reconnectOnError: (err) => err.message.startsWith('READONLY'),
    });
  }
  const { lazyConnect, enableOfflineQueue, enableAutoPipelining, retryStrategy, ...node } = opts;
  return new Cluster(target.nodes, {
    lazyConnect: lazyConnect ?? false,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableAutoPipelining: enableAutoPipelining ?? false,
    redisOptions: { ...node, ...auth },
    clusterRetryStrategy: retryStrategy ?? ((times) => Math.min(100 * times, 1000)),
    // A slot moving during a resharding or failover: follow it a few times, then fail the call.
    maxRedirections: 4,
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
  });
}

/** The masters to SCAN on: every master of a cluster, or the one server. */
export function masters(client: StoreClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

export function storeRedis(url: string, timeoutMs: number, health: StoreHealth, closing: () => boolean): StoreClient {
  const client = redisClient(url, {
    lazyConnect: true,
    enableAutoPipelining: true,
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(1000, timeoutMs),
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(100 * times, 1000),
  });
  client.on('error', (err: Error) => {
    if (!closing()) health.down(err.message);
  });
  client.on('ready', () => health.up());
  client.once('ready', () => {
    client.options.enableOfflineQueue = false;
  });
  return client;
}
