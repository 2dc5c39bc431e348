// The cache key: `GET host/path?sorted-query#parts`. The part before `#` is the target URI (what
// an unsafe method invalidates, and what DELETE /cache takes a prefix of); after it, the origin
// as the service is told it when that is not the usual (originParts), then what the `key` setting
// adds (consumer, header:<n>, query:<n>). HEAD shares GET's key: a stored GET answers it.
import type { Socket } from 'node:net';
import type { RequestContext } from '../types.js';

export interface KeyParts {
  consumer: boolean;
  headers: readonly string[];
  /** When some are named, only these query parameters are part of the key (others are ignored). */
  query: readonly string[];
}

/** `key` entries as the config gives them: 'consumer', 'header:<name>', 'query:<name>'. */
export function keyParts(entries: readonly string[]): KeyParts {
  const headers: string[] = [];
  const query: string[] = [];
  let consumer = false;
  for (const e of entries) {
    if (e === 'consumer') consumer = true;
    else if (e.startsWith('header:')) headers.push(e.slice(7).toLowerCase());
    else if (e.startsWith('query:')) query.push(e.slice(6));
  }
  return { consumer, headers, query };
}

/** The target URI's part of the key, for the GET (and HEAD) of `host`, `path` and raw `query`. */
export function uriKey(host: string, path: string, query: string, only: readonly string[]): string {
  return `GET ${host}${path}?${sortedQuery(query, only)}#`;
}

export function cacheKey(ctx: RequestContext, parts: KeyParts): string {
  let key = uriKey(ctx.host, ctx.path, ctx.query, parts.query) + originParts(ctx);
  if (parts.consumer) {
    const id = ctx.identity;
    key += `consumer=${encodeURIComponent(id === undefined ? '' : (id.consumerId ?? id.username ?? ''))};`;
  }
  for (const h of parts.headers) {
    const v = ctx.req.headers[h];
    key += `${h}=${encodeURIComponent(v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v)};`;
  }
  return key;
}

/**
 * The raw query's parameters sorted by name, each kept as it was encoded; with `only`, just those
 * names. `a=1&b=2` and `b=2&a=1` are one key. Parameters of one name keep their order (a stable
 * sort by the decoded name): `id=1&id=2` and `id=2&id=1` are different requests to a service that
 * reads the first (or the last), and `%69d` is `id` to it. A query with `;` is kept whole: some
 * services split on `;` too, and a parameter hidden after one must neither move nor be dropped.
 */
export function sortedQuery(query: string, only: readonly string[]): string {
  if (query === '') return '';
  if (query.includes(';')) return query;
  let pairs = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => ({ p, name: decodeName(p) }));
  if (only.length > 0) pairs = pairs.filter((x) => only.includes(x.name));
  if (pairs.length < 2) return pairs.map((x) => x.p).join('&');
  return pairs
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((x) => x.p)
    .join('&');
}

function decodeName(pair: string): string {
  const eq = pair.indexOf('=');
  const raw = eq < 0 ? pair : pair.slice(0, eq);
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/**
 * Request fields that name the origin or the target to the service: those the gateway passes on
 * from a trusted proxy, and the de-facto ones it passes on from anyone (frameworks build
 * redirects and links from X-Forwarded-Scheme/-Ssl/-Server or X-Host, and some route by
 * X-Original-URL / X-Rewrite-URL). X-Forwarded-Port and -Prefix never reach the service.
 */
const ORIGIN_FIELDS = [
  'x-forwarded-host',
  'x-forwarded-proto',
  'forwarded',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'x-forwarded-server',
  'x-host',
  'x-original-host',
  'x-original-url',
  'x-rewrite-url',
] as const;

/**
 * What the service is told about the request's origin beyond the key's host, when it is not the
 * usual: a response built from it (absolute links, redirects) must not answer other requests.
 * The key's host has no port, but X-Forwarded-Host and Forwarded carry the Host field as sent
 * (and with preserveHost the Host itself): a port other than the listener's is keyed. So are
 * X-Forwarded-Host / -Proto and Forwarded when the client sends them (passed on from a trusted
 * proxy), and a TLS listener (the service is told https). `@` is not in a field name: these never
 * read as a `header:` part.
 */
function originParts(ctx: RequestContext): string {
  const req = ctx.req;
  // Absent in a policy's unit test context, whatever the type says.
  const socket = req.socket as (Socket & { encrypted?: boolean }) | undefined;
  let out = '';
  const host = req.headers.host?.toLowerCase();
  if (host !== undefined && host !== ctx.host && host !== `${ctx.host}:${socket?.localPort}`) out += `@host=${encodeURIComponent(host)};`;
  for (const name of ORIGIN_FIELDS) {
    const v = req.headers[name];
    if (v !== undefined) out += `@${name}=${encodeURIComponent(Array.isArray(v) ? v.join(', ') : v)};`;
  }
  if (socket?.encrypted === true) out += '@https;';
  return out;
}
