// Which store a cache policy uses: memory (its maxSize), or Redis at its own url or the top-level
// store's (shared with the rate limits' Redis, under the cache's own key prefix).
import type { PolicyEnv } from '../types.js';
import type { CacheStore } from '../../store/cache/types.js';
import type { CacheStoreSpec } from '../../store/cache/registry.js';
import { parseDuration, parseSize } from '../../config/units.js';
import type { CacheConfig } from './schema.js';

export function storeSpec(config: CacheConfig, top: { type: string; url?: string | undefined }): CacheStoreSpec | string {
  if (config.store === 'memory') return { type: 'memory', maxBytes: parseSize(config.maxSize), maxVariants: config.maxVariants };
  const url = config.url ?? (top.type === 'redis' ? top.url : undefined);
  if (url === undefined) return 'store: redis needs a url, here or in the top-level store (type: redis)';
  return { type: 'redis', url, prefix: config.prefix, timeoutMs: parseDuration(config.timeout), maxVariants: config.maxVariants };
}

export function storeFor(config: CacheConfig, env: PolicyEnv): CacheStore {
  const spec = storeSpec(config, env.config.store);
  if (typeof spec === 'string') throw new Error(spec);
  return env.stores.cache.get(spec);
}
