// The label of a store in metrics, log lines, stats and GET /ready.
import type { StoreConfig } from '../config/store-schema.js';
import { parseRedisUrl } from '../config/redis-url.js';

/**
 * The `store` of metrics, log lines and GET /ready: scheme, host, port and database of the Redis
 * URL, never its credentials. Only an unambiguous URL is trusted for that (at most one "@", and
 * before the path; no "#"): with an unencoded "#", "/" or "@" in a password a URL parser takes part
 * of the password for the host, so such a URL is labelled just "redis".
 */
export function storeLabel(cfg: Pick<StoreConfig, 'url'>): string {
  const url = cfg.url ?? '';
  // Sentinel and Cluster: the parser's label, the hosts without the credentials.
  const target = parseRedisUrl(url);
  if ('label' in target) return target.label;
  if ('error' in target && /^redis\+/i.test(url)) return 'redis';
  const afterScheme = url.indexOf('://') + 3;
  // The authority ends at the first "/", "?" or "#": an "@" past that point, or a second "@",
  // means a parser would split the password somewhere else than its author meant.
  const rest = url.slice(afterScheme);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const ats = (url.match(/@/g) ?? []).length;
  const ambiguous = url.includes('#') || ats > 1 || (ats === 1 && !authority.includes('@'));
  if (afterScheme < 3 || ambiguous) return 'redis';
  try {
    const u = new URL(url);
    const db = /^\/\d+$/.test(u.pathname) ? u.pathname : '';
    return u.host === '' ? 'redis' : `${u.protocol}//${u.host}${db}`;
  } catch {
    return 'redis';
  }
}
