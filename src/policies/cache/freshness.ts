// What a shared cache may store and for how long a stored response is fresh (RFC 9111 §3, §4.2).
import { has, seconds, type Directives } from './cache-control.js';
import { responseDirectives } from './targeted.js';
import type { CacheEntry } from '../../store/cache/types.js';
import { httpDate } from './http-date.js';

export { httpDate };

/** Statuses a cache may give heuristic freshness to (RFC 9110 §15.1: "heuristically cacheable"). */
export const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);

/** What the policy's config says about freshness the response does not give. */
export interface FreshnessRules {
  /** ms of freshness for a response that states none (`ttl`); undefined: none given. */
  defaultTtlMs: number | undefined;
  /** Heuristic freshness (§4.2.2): this fraction of the time since Last-Modified; undefined: off. */
  heuristic: number | undefined;
  /** The longest heuristic freshness, ms. */
  heuristicMaxMs: number;
  /** Targeted cache-control fields this cache obeys, lower case, in order (RFC 9213): e.g. cdn-cache-control. */
  targets: readonly string[];
}

export function field(headers: readonly string[], name: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === name.length && headers[i]!.toLowerCase() === name)
      out = out === undefined ? headers[i + 1]! : `${out}, ${headers[i + 1]!}`;
  }
  return out;
}

/**
 * How long the response was fresh for when it was received, in ms (§4.2.1): s-maxage, max-age,
 * Expires minus Date, then the config's ttl, then the heuristic. 0: stale at once.
 */
export function freshnessLifetime(
  status: number,
  headers: readonly string[],
  cc: Directives,
  rules: FreshnessRules,
  responseTime: number,
): number {
  const sMax = seconds(cc, 's-maxage');
  if (sMax !== undefined) return sMax < 0 ? 0 : sMax * 1000;
  const max = seconds(cc, 'max-age');
  if (max !== undefined) return max < 0 ? 0 : max * 1000;
  const expiresText = field(headers, 'expires');
  if (expiresText !== undefined) {
    const expires = httpDate(expiresText);
    if (expires === undefined) return 0;
    const date = httpDate(field(headers, 'date')) ?? responseTime;
    return Math.max(0, expires - date);
  }
  if (rules.defaultTtlMs !== undefined) return rules.defaultTtlMs;
  if (rules.heuristic !== undefined && (HEURISTIC_STATUSES.has(status) || has(cc, 'public'))) {
    const lastModified = httpDate(field(headers, 'last-modified'));
    const date = httpDate(field(headers, 'date')) ?? responseTime;
    if (lastModified !== undefined && lastModified < date)
      return Math.min(rules.heuristicMaxMs, Math.floor((date - lastModified) * rules.heuristic));
  }
  return 0;
}

/** Whether the response states its freshness itself (not the config's ttl, nor the heuristic). */
export function explicitFreshness(headers: readonly string[], cc: Directives): boolean {
  return has(cc, 's-maxage') || has(cc, 'max-age') || field(headers, 'expires') !== undefined;
}

/** The response's age now, in ms (§4.2.3). */
export function currentAge(
  entry: Pick<CacheEntry, 'requestTime' | 'responseTime'> & { response: { headers: string[] } },
  now: number,
): number {
  const headers = entry.response.headers;
  const date = httpDate(field(headers, 'date')) ?? entry.responseTime;
  // The first value of the first Age line counts ("7200, 0" is old); one that is not a whole
  // number ("abc", "-1", "1.5") is ignored. Past 2^31 s it is 2^31 (RFC 9111 §1.2.2).
  const first = field(headers, 'age')?.split(',')[0]!.trim();
  const ageValue = first !== undefined && /^\d+$/.test(first) ? Math.min(Number(first), 2 ** 31) * 1000 : 0;
  const apparentAge = Math.max(0, entry.responseTime - date);
  const responseDelay = entry.responseTime - entry.requestTime;
  const correctedInitialAge = Math.max(apparentAge, ageValue + responseDelay);
  return correctedInitialAge + Math.max(0, now - entry.responseTime);
}

/** A stored entry's freshness facts, computed once when it is looked at. */
export interface Judged {
  cc: Directives;
  /** ms */
  lifetime: number;
  age: number;
  fresh: boolean;
  /** Must not be served stale at all (must-revalidate, proxy-revalidate, s-maxage: §4.2.4, §5.2.2.8). */
  noStale: boolean;
  /** Always revalidated before use (no-cache, §5.2.2.4). */
  noCache: boolean;
  /** ms past expiry it may still be served while one refresh runs (stale-while-revalidate), and on an error (stale-if-error). */
  whileRevalidate: number;
  ifError: number;
}

export function judge(entry: CacheEntry, rules: FreshnessRules, now: number, configStaleIfError: number): Judged {
  const r = entry.response;
  const cc = responseDirectives(r.headers, rules.targets);
  const lifetime = freshnessLifetime(r.status, r.headers, cc, rules, entry.responseTime);
  const age = currentAge(entry, now);
  const noStale = has(cc, 'must-revalidate') || has(cc, 'proxy-revalidate') || has(cc, 's-maxage');
  const swr = seconds(cc, 'stale-while-revalidate');
  const sie = seconds(cc, 'stale-if-error');
  return {
    cc,
    lifetime,
    age,
    fresh: age < lifetime,
    noStale,
    noCache: has(cc, 'no-cache'),
    whileRevalidate: noStale || swr === undefined || swr < 0 ? 0 : swr * 1000,
    // Never for what must be validated first (no-cache), nor a stored error standing in for an error.
    ifError: noStale || has(cc, 'no-cache') || r.status >= 500 ? 0 : sie !== undefined && sie >= 0 ? sie * 1000 : configStaleIfError,
  };
}

/** Why a response may not be stored by a shared cache, or undefined when it may (§3, §3.5). */
export function notStorable(
  status: number,
  headers: readonly string[],
  cc: Directives,
  opts: { statuses: ReadonlySet<number>; authorized: boolean; requestNoStore: boolean; rules: FreshnessRules },
): string | undefined {
  // A part (206) or a 304 is not the response: stored, it would answer requests for the whole
  // (§3.3 and §4.3.4 are the only ways they may be used). Never stored, whatever `statuses` lists.
  if (!opts.statuses.has(status) || status === 206 || status === 304) return 'status';
  if (opts.requestNoStore) return 'request no-store';
  if (has(cc, 'no-store')) return 'no-store';
  if (has(cc, 'private')) return 'private';
  // §3.5: a response to a request with Authorization only when the response says a shared cache may.
  if (opts.authorized && !has(cc, 'public') && !has(cc, 's-maxage') && !has(cc, 'must-revalidate')) return 'authorization';
  const vary = field(headers, 'vary');
  if (vary !== undefined && vary.split(',').some((v) => v.trim() === '*')) return 'vary *';
  // A stored Set-Cookie would hand one client's cookie to the next: never stored (a documented choice).
  if (field(headers, 'set-cookie') !== undefined) return 'set-cookie';
  // Something to go on: stated freshness, the config's, a heuristic, or a validator to revalidate with.
  const heuristic = opts.rules.heuristic !== undefined && (HEURISTIC_STATUSES.has(status) || has(cc, 'public'));
  if (
    explicitFreshness(headers, cc) ||
    opts.rules.defaultTtlMs !== undefined ||
    heuristic ||
    has(cc, 'public') ||
    has(cc, 'no-cache') ||
    field(headers, 'etag') !== undefined ||
    field(headers, 'last-modified') !== undefined
  )
    return undefined;
  return 'no freshness';
}
