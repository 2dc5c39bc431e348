// What the cache tells metrics and the log. A store that fails (Redis down) is logged once until
// it answers again, and every failure counted: requests are then served from the service.
import type { PolicyEnv } from '../types.js';
import type { CacheResult } from '../../observability/metrics.js';
import type { CacheConfig } from './schema.js';

export interface CacheEvents {
  event(route: string, result: CacheResult): void;
  stored(bytes: number): void;
  storeFailed(err: unknown): void;
  storeAnswered(): void;
}

export function cacheEvents(env: PolicyEnv, config: CacheConfig): CacheEvents {
  const route = env.routeName ?? '*';
  const metrics = env.metrics;
  let down = false;
  return {
    event: (r, result) => metrics?.cache(r, result),
    stored: (bytes) => metrics?.cacheStored(route, bytes),
    storeFailed: (err) => {
      metrics?.cacheStoreError(route);
      if (down) return;
      down = true;
      env.log.warn(
        { route, store: config.store, err: err instanceof Error ? err.message : String(err) },
        'cache store failed: serving from the service',
      );
    },
    storeAnswered: () => {
      if (!down) return;
      down = false;
      env.log.info({ route, store: config.store }, 'cache store answers again');
    },
  };
}
