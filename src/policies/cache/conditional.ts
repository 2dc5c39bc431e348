// A client's conditional GET answered from a stored response (RFC 9110 §13.1.2, §13.1.3, §15.4.5):
// If-None-Match by weak comparison, else If-Modified-Since against Last-Modified. Only for GET and
// HEAD; other preconditions (If-Match, If-Range…) are the service's to evaluate.
import type { IncomingMessage } from 'node:http';
import { field, httpDate } from './freshness.js';

/** Whether the client already has this response: answer 304. */
export function notModified(req: IncomingMessage, headers: readonly string[]): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    const etag = field(headers, 'etag');
    if (inm.trim() === '*') return true;
    if (etag === undefined) return false;
    const mine = opaque(etag);
    return inm.split(',').some((t) => opaque(t) === mine);
  }
  const ims = httpDate(req.headers['if-modified-since']);
  if (ims === undefined) return false;
  const lastModified = httpDate(field(headers, 'last-modified'));
  return lastModified !== undefined && lastModified <= ims;
}

/** An entity-tag's opaque part: weak comparison ignores W/. */
function opaque(tag: string): string {
  const t = tag.trim();
  return t.startsWith('W/') ? t.slice(2) : t;
}

/** The fields a 304 carries from the stored response (RFC 9110 §15.4.5), plus what the cache adds. */
const KEPT_ON_304 = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified']);

export function notModifiedHeaders(headers: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (KEPT_ON_304.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  return out;
}

/** The stored response's fields updated with a 304's (RFC 9111 §3.2): each field the 304 has replaces the stored one. */
export function mergeNotModified(stored: readonly string[], fresh: readonly string[]): string[] {
  const replaced = new Set<string>();
  for (let i = 0; i < fresh.length; i += 2) {
    const n = fresh[i]!.toLowerCase();
    // The stored body's own framing stays; the gateway's fields are not the service's.
    if (n !== 'content-length' && n !== 'content-encoding' && n !== 'content-range' && n !== 'via') replaced.add(n);
  }
  const out: string[] = [];
  for (let i = 0; i < stored.length; i += 2) if (!replaced.has(stored[i]!.toLowerCase())) out.push(stored[i]!, stored[i + 1]!);
  for (let i = 0; i < fresh.length; i += 2) if (replaced.has(fresh[i]!.toLowerCase())) out.push(fresh[i]!, fresh[i + 1]!);
  return out;
}
