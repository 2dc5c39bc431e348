// The canonical request path: the single string used to route, to run policies and to forward.
//
// Percent-decoded exactly once; encoded "/", "\" and NUL (and other control bytes) refused, as are
// encoded dot segments and double-encoded "/", "\", ".", NUL; literal "\" refused; dot segments
// resolved (climbing above "/" refused); repeated slashes merged. A dot segment carrying path
// parameters ("..;x", ".;") is refused too: Tomcat and Spring drop ";params" before resolving dot
// segments, so "/svc/..;/admin" would climb out of a rewrite prefix there while it is a plain name
// here. Forwarding re-encodes only what must be encoded, so the upstream sees the same resource
// the gateway routed on.
//
// Any ";" at all, literal or encoded (%3B), is refused by default, as Spring Security's
// StrictHttpFirewall does: Java servers drop ";params" from every segment, so "/api/admin;x/users"
// would route here as the segment "admin;x" (a public route) and be served there as
// "/api/admin/users". With `server.allowSemicolonInPath` a literal ";" is an ordinary character
// and an encoded one stays encoded: the canonical path spells it "%3B" (a double-encoded ";" is
// refused, so "%3B" in a canonical path always means an encoded ";") and it is forwarded as "%3B",
// never as a delimiter.

const SLASH = 47,
  BACKSLASH = 92,
  DOT = 46,
  PERCENT = 37,
  HASH = 35,
  SEMICOLON = 59;

/**
 * Returns the canonical path, or undefined when the path must be refused (400). `allowSemicolon`
 * is `server.allowSemicolonInPath`: false refuses any ";" (literal or %3B).
 */
export function canonicalizePath(raw: string, allowSemicolon = false): string | undefined {
  // Fast path: nothing to decode, no dot segment, no empty segment. Most requests end here.
  let prev = SLASH;
  let simple = raw.charCodeAt(0) === SLASH;
  for (let i = 1; simple && i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT || c === BACKSLASH || c === HASH || c <= 32 || c === 127) simple = false;
    else if (c === SLASH && prev === SLASH) simple = false;
    else if (c === SEMICOLON && !allowSemicolon) return undefined;
    else if (c === DOT && prev === SLASH) {
      // "." or ".." ending the segment, or followed by ";" (see above): the slow path decides.
      const n = raw.charCodeAt(i + 1);
      const n2 = raw.charCodeAt(i + 2);
      if (Number.isNaN(n) || n === SLASH || n === SEMICOLON || (n === DOT && (Number.isNaN(n2) || n2 === SLASH || n2 === SEMICOLON)))
        simple = false;
    }
    prev = c;
  }
  if (simple) return raw;
  return slowCanonicalize(raw, allowSemicolon);
}

const DANGEROUS_DOUBLE = /%(2e|2f|5c|00|3b)/i;
const ENCODED_SEMICOLON = /%3b/i;

function slowCanonicalize(raw: string, allowSemicolon: boolean): string | undefined {
  if (raw.charCodeAt(0) !== SLASH) return undefined;
  // Decode per segment so that a dot segment spelled with %2e can be told apart and refused.
  const rawSegments = raw.slice(1).split('/');
  const out: string[] = [];
  for (let i = 0; i < rawSegments.length; i++) {
    const rs = rawSegments[i]!;
    const last = i === rawSegments.length - 1;
    const seg = decodeSegment(rs, allowSemicolon);
    if (seg === undefined) return undefined;
    if (seg.charCodeAt(0) === DOT && isDotWithParams(seg)) return undefined;
    if (seg === '.' || seg === '..') {
      if (rs !== seg) return undefined; // encoded dot segment: a traversal attempt, never a name
      if (seg === '..') {
        if (out.length === 0) return undefined; // above the root
        out.pop();
      }
      if (last) out.push(''); // "/a/b/.." → "/a/"
      continue;
    }
    if (seg === '' && !last) continue; // merge "//"
    out.push(allowSemicolon && ENCODED_SEMICOLON.test(rs) ? keepEncodedSemicolons(rs) : seg);
  }
  return '/' + out.join('/');
}

/** ".;…" or "..;…" (after decoding, so "%2e%2e%3b" counts too). */
function isDotWithParams(seg: string): boolean {
  const semi = seg.indexOf(';');
  return semi === 1 || (semi === 2 && seg.charCodeAt(1) === DOT);
}

/**
 * A segment that decodeSegment accepted, decoded with each encoded ";" spelled "%3B" again. "%3B"
 * is a whole escape in an accepted segment (a "%" is never part of another escape), and ";" is
 * ASCII, so splitting there cuts no escape and no UTF-8 sequence.
 */
function keepEncodedSemicolons(rs: string): string {
  return rs
    .split(ENCODED_SEMICOLON_ALL)
    .map((part) => decodeSegment(part, true)!)
    .join('%3B');
}
const ENCODED_SEMICOLON_ALL = /%3b/gi;

const decoder = new TextDecoder('utf-8', { fatal: true });

function decodeSegment(s: string, allowSemicolon: boolean): string | undefined {
  let needsDecode = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === BACKSLASH || c === HASH || c <= 32 || c === 127) return undefined;
    if (c === SEMICOLON && !allowSemicolon) return undefined;
    if (c === PERCENT) needsDecode = true;
  }
  if (!needsDecode) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== PERCENT) {
      if (c > 127) return undefined; // the HTTP parser only lets ASCII through; be sure
      bytes.push(c);
      continue;
    }
    const v = hex(s.charCodeAt(i + 1)) * 16 + hex(s.charCodeAt(i + 2));
    if (!(v >= 0)) return undefined; // malformed escape
    if (v === SLASH || v === BACKSLASH || v < 32 || v === 127) return undefined;
    if (v === SEMICOLON && !allowSemicolon) return undefined;
    bytes.push(v);
    i += 2;
  }
  let text: string;
  try {
    text = decoder.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
  if (DANGEROUS_DOUBLE.test(text)) return undefined; // double encoding of / \ . NUL ;
  return text;
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return NaN;
}

// Characters that must be percent-encoded when a canonical path goes upstream.
const NEEDS_ENCODING = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/;

/**
 * The canonical path as a request-target path for the upstream. With `allowSemicolon`
 * (`server.allowSemicolonInPath`) a "%3B" in the canonical path is an encoded ";" (see above) and
 * goes as is; any other "%" is a literal percent, sent as "%25".
 */
export function encodePathForUpstream(path: string, allowSemicolon = false): string {
  if (!NEEDS_ENCODING.test(path)) return path;
  if (allowSemicolon && path.includes('%3B'))
    return path
      .split('%3B')
      .map((p) => encodePathForUpstream(p))
      .join('%3B');
  let out = '';
  for (const ch of path) {
    if (!NEEDS_ENCODING.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of Buffer.from(ch, 'utf8')) out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}

const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Whether a policy's `upstreamTarget` (a plugin's too) is a method token and a canonical path, as
 * the gateway would have routed: one that is not would reach the service as something no request
 * to the gateway could (an absolute-form target naming another host, "..", "//", ";"), or fail as
 * if the service were down. A canonical path survives encoding and canonicalizing unchanged.
 */
export function isUpstreamTarget(t: { method: unknown; path: unknown }, allowSemicolon = false): boolean {
  if (typeof t.method !== 'string' || !METHOD.test(t.method) || typeof t.path !== 'string') return false;
  return canonicalizePath(encodePathForUpstream(t.path, allowSemicolon), allowSemicolon) === t.path;
}
