// `hashOn` — where consistent-hash takes a request's key from — compiled once per config into a
// plain function, so the per-request work is one header/cookie/query lookup and no parsing of the
// spelling. The schema calls validateHashOn (zod refine); compileHashOn assumes a valid spelling
// and throws the same message otherwise.
//
//   header:<name>   the header's value (several values joined with ", ")
//   cookie:<name>   the cookie's value, surrounding double quotes removed
//   ip              the client IP (after trusted-proxy handling)
//   consumer        the authenticated consumer's id
//   path            the canonical request path
//   query:<name>    the first value of that query parameter, percent-decoded
//
// An absent or empty source gives undefined: the balancer then spreads the request without a key.

/** What a hash key is taken from; the lead adapts RequestContext to it. */
export interface HashKeyInput {
  /** Request headers by lower-case name, as node's IncomingMessage.headers. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly clientIp: string;
  /** The authenticated consumer's id; undefined when anonymous or not authenticated. */
  readonly consumerId: string | undefined;
  readonly path: string;
  /** The raw query string without "?" ("" when there is none). */
  readonly query: string;
}

export type HashKeyFn = (input: HashKeyInput) => string | undefined;

// The spelling is config's to check (config/hash-on.ts); compiling it is the balancer's.
export { validateHashOn } from '../../config/hash-on.js';
import { validateHashOn } from '../../config/hash-on.js';

/** Compiles a valid hashOn spelling; throws with validateHashOn's message otherwise. */
export function compileHashOn(spec: string): HashKeyFn {
  const problem = validateHashOn(spec);
  if (problem !== undefined) throw new Error(problem);
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const name = spec.slice(colon + 1);
  switch (kind) {
    case 'ip':
      return (i) => i.clientIp || undefined;
    case 'consumer':
      return (i) => i.consumerId || undefined;
    case 'path':
      return (i) => i.path || undefined;
    case 'header': {
      const lower = name.toLowerCase();
      return (i) => {
        const v = i.headers[lower];
        return (typeof v === 'string' ? v : v?.join(', ')) || undefined;
      };
    }
    case 'cookie':
      return (i) => {
        const v = i.headers.cookie;
        if (typeof v === 'string') return cookieValue(v, name);
        if (v === undefined) return undefined;
        for (const line of v) {
          const found = cookieValue(line, name);
          if (found !== undefined) return found;
        }
        return undefined;
      };
    default: // 'query'
      return (i) => queryValue(i.query, name);
  }
}

/** The value of cookie `name` in one Cookie header ("a=1; b=2"), or undefined. */
function cookieValue(header: string, name: string): string | undefined {
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq > start && eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value || undefined;
    }
    start = end + 1;
  }
  return undefined;
}

/** The first value of parameter `name` in a raw query string, percent-decoded, or undefined. */
function queryValue(query: string, name: string): string | undefined {
  let start = 0;
  while (start < query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    let eq = query.indexOf('=', start);
    if (eq < 0 || eq > end) eq = end;
    const raw = query.slice(start, eq);
    if (raw === name || ((raw.includes('%') || raw.includes('+')) && decode(raw) === name)) {
      return decode(query.slice(eq + 1, end)) || undefined;
    }
    start = end + 1;
  }
  return undefined;
}

function decode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  const spaced = s.replaceAll('+', ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced; // malformed escapes: hash the text as sent
  }
}
