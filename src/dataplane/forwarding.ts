// Request headers on their way upstream. One pass over the client's raw headers sorts them into
// "forward as is", "drop" (hop-by-hop, and what the gateway itself sets) and "remember" (the
// values routing and forwarding need). Forwarding headers from untrusted peers are discarded.
import type { HeaderList } from '../policies/types.js';
import { plainIp, type TrustedProxies } from './trusted-proxies.js';
import { IDENTITY_HEADERS } from '../identity/identity-headers.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1 plus the legacy ones) and headers the gateway sets itself. */
const enum Kind {
  Forward,
  Drop,
  Host,
  RequestId,
  Xff,
  Xfp,
  Xfh,
  Forwarded,
  Via,
  Connection,
  ContentLength,
  TransferEncoding,
  TraceParent,
  TraceState,
  UserAgent,
  Te,
  /** HTTP/2's :method, :path, :scheme, :protocol: read from the request object, never forwarded. */
  Pseudo,
  Authority,
  Cookie,
}
const KINDS = new Map<string, Kind>([
  ['connection', Kind.Connection],
  ['keep-alive', Kind.Drop],
  ['proxy-connection', Kind.Drop],
  ['proxy-authorization', Kind.Drop],
  ['proxy-authenticate', Kind.Drop],
  ['te', Kind.Te],
  ['trailer', Kind.Drop],
  ['upgrade', Kind.Drop],
  ['expect', Kind.Drop], // the gateway answers 100-continue itself
  ['host', Kind.Host],
  ['x-request-id', Kind.RequestId],
  ['x-forwarded-for', Kind.Xff],
  ['x-forwarded-proto', Kind.Xfp],
  ['x-forwarded-host', Kind.Xfh],
  ['x-forwarded-port', Kind.Drop],
  ['x-forwarded-prefix', Kind.Drop],
  ['x-real-ip', Kind.Drop],
  ['forwarded', Kind.Forwarded],
  ['via', Kind.Via],
  ['content-length', Kind.ContentLength],
  ['transfer-encoding', Kind.TransferEncoding],
  // Remembered for tracing and the access log in the same pass (no second scan per request).
  ['traceparent', Kind.TraceParent],
  ['tracestate', Kind.TraceState],
  ['user-agent', Kind.UserAgent],
  ['cookie', Kind.Cookie],
  // HTTP/2 (node's compatibility API lists pseudo-headers with the fields; an HTTP/1.1 field name
  // cannot start with ":").
  [':method', Kind.Pseudo],
  [':path', Kind.Pseudo],
  [':scheme', Kind.Pseudo],
  [':protocol', Kind.Pseudo],
  [':authority', Kind.Authority],
  // Identity headers are set by the gateway only (identity/identity-headers.ts): a client's copies never pass.
  ...IDENTITY_HEADERS.map((h) => [h, Kind.Drop] as [string, Kind]),
]);

export interface ScannedHeaders {
  /** Headers to forward unchanged, original name case. */
  forward: HeaderList;
  host: string | undefined;
  hostCount: number;
  requestId: string | undefined;
  xff: string | undefined;
  xfp: string | undefined;
  xfh: string | undefined;
  forwarded: string | undefined;
  via: string | undefined;
  connection: string | undefined;
  contentLength: string | undefined;
  /**
   * Every Transfer-Encoding field line, joined with ", " (the framing check reads them all). An
   * HTTP/2 request with a body and no Content-Length has "chunked" here (http2/request.ts): a body
   * of unknown length, framed by the protocol, as a chunked one is.
   */
  transferEncoding: string | undefined;
  /**
   * The client's `traceparent`, held back from `forward`: with tracing on the gateway sends its
   * own, with tracing off this one goes on unchanged (several are joined with ", ").
   */
  traceparent: string | undefined;
  /** Several `traceparent` fields: invalid for tracing (a new trace starts). */
  traceparentCount: number;
  /** `tracestate` (several joined with ","), also forwarded as is. */
  tracestate: string | undefined;
  userAgent: string | undefined;
  /** TE names "trailers": the client takes trailer fields (an HTTP/1.1 response carries them then). */
  trailers: boolean;
  /** HTTP/2 pseudo-headers seen (0 for HTTP/1.x). */
  pseudo: number;
  /** HTTP/2's :authority; http2/request.ts makes it the request's host. */
  authority: string | undefined;
}

/**
 * The admin console's session cookie (admin/console/sessions.ts). Cookies ignore ports: a browser
 * signed in to the console sends it to the data plane on the same host too, and an upstream that
 * got it would hold an admin session. It never leaves the gateway.
 */
export const CONSOLE_COOKIE = 'gatehouse_console';

/** A Cookie field without the console's cookie; undefined when nothing else is left. */
function withoutConsoleCookie(value: string): string | undefined {
  if (!value.includes(CONSOLE_COOKIE)) return value;
  const kept = value
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '' && cookieName(c) !== CONSOLE_COOKIE);
  return kept.length === 0 ? undefined : kept.join('; ');
}

/** The name of a cookie pair, or of a Set-Cookie field's cookie ("name=value; Path=/" → "name"). */
function cookieName(pair: string): string {
  const eq = pair.indexOf('=');
  const semi = pair.indexOf(';');
  const end = eq === -1 || (semi !== -1 && semi < eq) ? (semi === -1 ? pair.length : semi) : eq;
  return pair.slice(0, end).trim();
}

const join = (a: string | undefined, b: string) => (a === undefined ? b : `${a}, ${b}`);

export function scanHeaders(raw: string[]): ScannedHeaders {
  const s: ScannedHeaders = {
    forward: [],
    host: undefined,
    hostCount: 0,
    requestId: undefined,
    xff: undefined,
    xfp: undefined,
    xfh: undefined,
    forwarded: undefined,
    via: undefined,
    connection: undefined,
    contentLength: undefined,
    transferEncoding: undefined,
    traceparent: undefined,
    traceparentCount: 0,
    tracestate: undefined,
    userAgent: undefined,
    trailers: false,
    pseudo: 0,
    authority: undefined,
  };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const kind = KINDS.get(name.toLowerCase());
    switch (kind) {
      case undefined:
        s.forward.push(name, value);
        break;
      case Kind.Drop:
        break;
      case Kind.Host:
        s.host = value;
        s.hostCount++;
        break;
      case Kind.RequestId:
        s.requestId = value;
        break;
      case Kind.Xff:
        s.xff = join(s.xff, value);
        break;
      case Kind.Xfp:
        s.xfp = value;
        break;
      case Kind.Xfh:
        s.xfh = value;
        break;
      case Kind.Forwarded:
        s.forwarded = join(s.forwarded, value);
        break;
      case Kind.Via:
        s.via = join(s.via, value);
        break;
      case Kind.Connection:
        s.connection = join(s.connection, value);
        break;
      case Kind.ContentLength:
        s.contentLength = value;
        s.forward.push(name, value);
        break;
      case Kind.TransferEncoding:
        s.transferEncoding = join(s.transferEncoding, value);
        break; // undici frames the body itself
      case Kind.TraceParent:
        s.traceparent = join(s.traceparent, value);
        s.traceparentCount++;
        break;
      case Kind.TraceState:
        s.tracestate = s.tracestate === undefined ? value : `${s.tracestate},${value}`;
        s.forward.push(name, value);
        break;
      case Kind.UserAgent:
        s.userAgent ??= value;
        s.forward.push(name, value);
        break;
      case Kind.Te:
        // Hop-by-hop, never forwarded; "trailers" tells whether trailer fields may go back to this client.
        if (!s.trailers && /\btrailers\b/i.test(value)) s.trailers = true;
        break;
      case Kind.Cookie: {
        const kept = withoutConsoleCookie(value);
        if (kept !== undefined) s.forward.push(name, kept);
        break;
      }
      case Kind.Pseudo:
        s.pseudo++;
        break;
      case Kind.Authority:
        s.pseudo++;
        s.authority = value;
        break;
      default:
        s.forward.push(name, value);
    }
  }
  if (s.connection !== undefined && dropConnectionListed(s.forward, s.connection)?.has('traceparent')) {
    // Named hop-by-hop: not passed on (held back from `forward`, so dropped here).
    s.traceparent = undefined;
    s.traceparentCount = 0;
  }
  return s;
}

/**
 * The client's request trailers an upstream may get (an HTTP/2 service does): only fields the scan
 * would forward unchanged as headers. Framing, hop-by-hop and pseudo fields, the forwarding and
 * tracing headers the gateway sets, identity headers and the configured claim headers
 * (`claimHeaders`, lowercase) never pass, here as in the header section: a trailer is where a
 * client would otherwise slip a forged `x-consumer-id` past the gateway.
 */
export function requestTrailers(raw: readonly string[], claimHeaders: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (KINDS.has(lower) || lower.charCodeAt(0) === 58 /* : */ || claimHeaders.includes(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/**
 * Removes the headers a `Connection` header names (they are hop-by-hop for this connection);
 * returns the names, if any.
 */
function dropConnectionListed(headers: HeaderList, connection: string): Set<string> | undefined {
  // The usual values name no header: skip the split.
  const plain = connection.length <= 10 ? connection.toLowerCase() : '';
  if (plain === 'keep-alive' || plain === 'close') return undefined;
  const named = new Set<string>();
  for (const t of connection.split(',')) {
    const n = t.trim().toLowerCase();
    if (n && n !== 'close' && n !== 'keep-alive') named.add(n);
  }
  if (named.size === 0) return undefined;
  let w = 0;
  for (let i = 0; i < headers.length; i += 2) {
    if (named.has(headers[i]!.toLowerCase())) continue;
    headers[w++] = headers[i]!;
    headers[w++] = headers[i + 1]!;
  }
  headers.length = w;
  return named;
}

/**
 * Request body bytes: the Content-Length of a body read whole (`complete`); for a chunked one, or
 * one cut short, what the socket read while the request ran (`socketDelta`, framing included).
 */
export function requestBodyBytes(scan: ScannedHeaders, complete: boolean, socketDelta: number): number {
  if (scan.contentLength === undefined && scan.transferEncoding === undefined) return 0;
  if (scan.transferEncoding === undefined && complete) return Number(scan.contentLength) || 0;
  return Math.max(0, socketDelta);
}

export interface ClientInfo {
  /** The socket peer. */
  peer: string;
  /** The client after trusted-proxy resolution. */
  ip: string;
  /** Whether the peer is a trusted proxy, so its forwarding headers are believed. */
  trusted: boolean;
}

export function resolveClient(remoteAddress: string | undefined, scan: ScannedHeaders, trusted: TrustedProxies): ClientInfo {
  const peer = plainIp(remoteAddress ?? '');
  if (trusted.empty || !trusted.trusts(peer)) return { peer, ip: peer, trusted: false };
  // Walk X-Forwarded-For from the right, skipping our own trusted hops: the first untrusted
  // address is the client. Everything left of it could have been written by the client.
  let ip = peer;
  if (scan.xff !== undefined) {
    const hops = scan.xff.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plainIp(hops[i]!.trim());
      if (!hop) break;
      ip = hop;
      if (!trusted.trusts(hop)) break;
    }
  }
  return { peer, ip, trusted: true };
}

const VIA = '1.1 gatehouse';

function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

function quoted(v: string): string {
  return v.includes('"') || v.includes('\\') ? `"${v.replace(/["\\]/g, '\\$&')}"` : `"${v}"`;
}

/** Appends the forwarding headers the gateway sets. */
export function addForwardingHeaders(
  out: HeaderList,
  scan: ScannedHeaders,
  client: ClientInfo,
  proto: 'http' | 'https',
  requestId: string,
): void {
  const host = scan.host ?? '';
  const t = client.trusted;
  out.push('x-forwarded-for', t && scan.xff !== undefined ? `${scan.xff}, ${client.peer}` : client.peer);
  out.push('x-forwarded-proto', t && scan.xfp !== undefined ? scan.xfp : proto);
  out.push('x-forwarded-host', t && scan.xfh !== undefined ? scan.xfh : host);
  const element = `for=${forwardedNode(client.peer)};host=${quoted(host)};proto=${proto}`;
  out.push('forwarded', t && scan.forwarded !== undefined ? `${scan.forwarded}, ${element}` : element);
  out.push('via', scan.via !== undefined ? `${scan.via}, ${VIA}` : VIA);
  out.push('x-request-id', requestId);
}

// Response headers from the upstream that must not be passed on (hop-by-hop), lowercase.
// X-Powered-By is not hop-by-hop, but it only tells an attacker what to aim at.
const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'x-request-id',
  'x-powered-by',
]);

/**
 * Converts undici's raw response headers into a flat list for the client, without hop-by-hop
 * headers (and those named in the upstream's Connection header), plus Via and X-Request-Id.
 */
export function responseHeaders(raw: Buffer[] | string[], requestId: string): HeaderList {
  return withGatewayFields(upstreamFields(raw), requestId);
}

/**
 * The service's response fields that may be passed on: without hop-by-hop ones and those its
 * Connection names; its Via as it came. What a cache stores (and serves again through
 * withGatewayFields).
 */
export function upstreamFields(raw: Buffer[] | string[]): HeaderList {
  const out: HeaderList = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (RESPONSE_DROP.has(lower)) {
      if (lower === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
      continue;
    }
    // A service may not set the console's cookie either (signing the operator out, or into a session of its own).
    if (lower === 'set-cookie' && cookieName(value) === CONSOLE_COOKIE) continue;
    out.push(name, value);
  }
  if (connection !== undefined) dropConnectionListed(out, connection);
  return out;
}

/** The gateway's own fields on a response: its Via after the service's (one field), and X-Request-Id. Changes `fields`. */
export function withGatewayFields(fields: HeaderList, requestId: string): HeaderList {
  let via: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (name.length !== 3 || name.toLowerCase() !== 'via') continue;
    via = via === undefined ? fields[i + 1]! : `${via}, ${fields[i + 1]!}`;
    fields.splice(i, 2);
    i -= 2;
  }
  fields.push('via', via === undefined ? VIA : `${via}, ${VIA}`, 'x-request-id', requestId);
  return fields;
}
