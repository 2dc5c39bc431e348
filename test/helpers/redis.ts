// The shared Redis at 127.0.0.1:6379 for tests. Each test uses its own key prefix. With CI=true
// Redis must be there; without CI and no server, Redis tests are skipped with a loud message.
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';

export const REDIS_URL = process.env.GATEHOUSE_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** undefined = reachable; otherwise the reason to skip. */
export async function redisUnavailable(): Promise<string | undefined> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
    return undefined;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`Redis is required with CI=true but ${REDIS_URL} is not reachable: ${(err as Error).message}`);
    const why = `SKIPPED: no Redis at ${REDIS_URL} (${(err as Error).message}); set CI=true to make this a failure`;
    console.error(`\n*** ${why} ***\n`);
    return why;
  } finally {
    r.disconnect();
  }
}

export function uniquePrefix(name: string): string {
  return `gatehouse-test:${name}:${randomUUID()}:`;
}

/** Deletes every key under `prefix`. */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
