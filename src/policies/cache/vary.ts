// Stored variants (RFC 9111 §4.1): a stored response answers a request only when every request
// field its Vary names has the same value as in the request that got it. Values are compared after
// joining repeated fields with ", " and removing the spaces around commas (§4.1 allows such
// normalisation); names are lower-cased.
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

/** The request's value of `name` as Vary compares it; null when absent. */
export function requestValue(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  if (v === undefined) return null;
  return normalise(Array.isArray(v) ? v.join(', ') : v);
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
  for (const e of variants) {
    if (!e.vary.every((name, i) => requestValue(req, name) === e.varyValues[i])) continue;
    if (best === undefined || e.responseTime > best.responseTime) best = e;
  }
  return best;
}
