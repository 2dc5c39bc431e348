// The ioredis client of a shared store (rate-limit counters, cached responses), configured once for
// both: every call has a timeout, and a store that is down fails calls at once rather than queueing
// them. Only the first connection queues calls (each still bounded by the timeout); once connected,
// a call never waits for a reconnect — it fails and the caller's outage policy answers. ioredis
// reconnects on its own; the health says the store is down (a dead port is known before any call)
// and, on 'ready', that it is back.
import { Redis } from 'ioredis';
import type { StoreHealth } from './health.js';

export function storeRedis(url: string, timeoutMs: number, health: StoreHealth, closing: () => boolean): Redis {
  const client = new Redis(url, {
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
