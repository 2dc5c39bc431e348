// What an unsafe method's success invalidates (RFC 9111 §4.4), and the tags a response is stored
// under for DELETE /cache?tag= (Surrogate-Key / Cache-Tag).
import type { RequestContext } from '../types.js';
import { field } from './freshness.js';
import { uriKey, type KeyParts } from './key.js';

/** At most this many tags per stored response: a service cannot make one entry cost without bound. */
const MAX_TAGS = 64;

/**
 * The key prefixes of the target URI and of Location / Content-Location on the same host. `query`
 * is the query as the client sent it, as the keys have it (key-auth's `query` takes the key out of
 * ctx.query before the request goes on: the stored GETs with it would not be invalidated).
 */
export function invalidatedPrefixes(ctx: RequestContext, query: string, headers: readonly string[], parts: KeyParts): string[] {
  const uris = [uriKey(ctx.host, ctx.path, query, parts.query)];
  for (const name of ['location', 'content-location']) {
    const v = field(headers, name);
    if (v === undefined) continue;
    try {
      const u = new URL(v, `http://${ctx.host}${ctx.path}`);
      if (u.host === ctx.host) uris.push(uriKey(ctx.host, u.pathname, u.search.slice(1), parts.query));
    } catch {
      /* not a URI: nothing to invalidate */
    }
  }
  return uris;
}

/** The tags of a response, from the fields `tagHeaders` (lower case) names, space- or comma-separated. */
export function responseTags(tagHeaders: readonly string[], headers: readonly string[]): string[] {
  const out: string[] = [];
  for (const h of tagHeaders) {
    const v = field(headers, h);
    if (v !== undefined) for (const t of v.split(/[\s,]+/)) if (t !== '' && out.length < MAX_TAGS) out.push(t);
  }
  return out;
}
