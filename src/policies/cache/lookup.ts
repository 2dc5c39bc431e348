// Whether a stored response may answer a request as it is, stale, or only after revalidation
// (RFC 9111 §4, §4.2.4, §5.2.1 request directives).
import { has, seconds, type Directives } from './cache-control.js';
import type { Judged } from './freshness.js';

export type Use =
  /** Serve it: fresh (or stale within the client's max-stale). */
  | 'serve'
  /** Ask the service first (conditionally when it has validators); it can still answer a failure (stale-if-error). */
  | 'revalidate'
  /** Serve it now (stale) and refresh it (stale-while-revalidate). */
  | 'serve-stale-refresh';

/**
 * How a stored response may be used for a request with directives `req` (empty when they are
 * ignored by config).
 */
export function usage(j: Judged, req: Directives): Use {
  if (j.noCache || has(req, 'no-cache')) return 'revalidate';
  const maxAge = seconds(req, 'max-age');
  if (maxAge !== undefined && (maxAge < 0 || j.age > maxAge * 1000)) return 'revalidate';
  if (j.fresh) {
    const minFresh = seconds(req, 'min-fresh');
    if (minFresh !== undefined && (minFresh < 0 || j.lifetime - j.age < minFresh * 1000)) return 'revalidate';
    return 'serve';
  }
  const staleFor = j.age - j.lifetime;
  if (!j.noStale && has(req, 'max-stale')) {
    // max-stale without a value: any staleness the client accepts.
    const v = req.map.get('max-stale');
    if (v === '') return 'serve';
    const ms = seconds(req, 'max-stale');
    if (ms !== undefined && ms >= 0 && staleFor <= ms * 1000) return 'serve';
  }
  if (j.whileRevalidate > 0 && staleFor <= j.whileRevalidate) return 'serve-stale-refresh';
  return 'revalidate';
}

/** Remaining freshness in whole seconds (negative when stale): Cache-Status's `ttl`. */
export function ttlSeconds(j: Judged): number {
  return Math.floor((j.lifetime - j.age) / 1000);
}
