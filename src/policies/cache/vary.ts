// Stored variants (RFC 9111 §4.1): a stored response answers a request only when every request
// field its Vary names has the same value as in the request that got it. Values are compared after
// joining repeated fields with ", " and removing the spaces around commas (§4.1 allows such
// normalisation); names are lower-cased.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CacheEntry } from '../../store/cache/types.js';
import { field } from './freshness.js';

/** The lower-cased field names of a response's Vary, without duplicates ('*' never reaches here: not stored). */
export function varyNames(headers: readonly string[]): string[] {
  const v = field(headers, 'vary');
  if (v === undefined) return [];
  const names = new Set<string>();
  for (const n of v.split(',')) {
    const name = n.trim().toLowerCase();
    if (name !== '') names.add(name);
  }
  return [...names];
}

/**
 * Fields that carry a credential: a response that varies on them keeps a digest of the value, not
 * the value (a session cookie or a bearer token would otherwise sit in the store — Redis, shared —
 * for anyone who can read it to replay).
 */
const SECRET_FIELDS: ReadonlySet<string> = new Set(['cookie', 'authorization', 'proxy-authorization']);

/** The request's value of `name` as Vary compares it (a digest for a credential); null when absent. */
export function requestValue(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  if (v === undefined) return null;
  const value = normalise(Array.isArray(v) ? v.join(', ') : v);
  return SECRET_FIELDS.has(name) ? `sha256:${createHash('sha256').update(value).digest('base64url')}` : value;
}

export function normalise(v: string): string {
  // Split and trimmed, not /\s*,\s*/g: that regex backtracks over every run of spaces without a
  // comma (quadratic), and the value is the client's — 16 KB of spaces cost a third of a second.
  if (v.indexOf(',') === -1) return v.trim();
  return v
    .split(',')
    .map((p) => p.trim())
    .join(', ');
}

/** The entry among `variants` this request may be answered with (the newest first), or undefined. */
export function selectVariant(variants: readonly CacheEntry[], req: IncomingMessage): CacheEntry | undefined {
  let best: CacheEntry | undefined;
  // Each of the request's values once, however many variants compare it.
  const mine = new Map<string, string | null>();
  const valueOf = (name: string) => {
    let v = mine.get(name);
    if (v === undefined && !mine.has(name)) mine.set(name, (v = requestValue(req, name)));
    return v;
  };
  for (const e of variants) {
    if (!e.vary.every((name, i) => valueOf(name) === e.varyValues[i])) continue;
    if (best === undefined || e.responseTime > best.responseTime) best = e;
  }
  return best;
}
