// `redirectHttps` on a plain-HTTP listener (every request) or on a route: 308 Permanent Redirect
// to the same host and request target over https — 308 rather than 301 so a POST stays a POST
// with its body. A request that came over HTTPS is never redirected: over TLS, or through a
// trusted proxy that says X-Forwarded-Proto: https (a TLS-terminating load balancer in front).
import type { IncomingMessage } from 'node:http';
import type { ClientInfo, ScannedHeaders } from './forwarding.js';
import type { Answer } from './respond.js';

export interface HttpsRedirect {
  /** ":8443", or "" for 443. */
  readonly portSuffix: string;
}

export function compileRedirect(setting: boolean | { port: number } | undefined): HttpsRedirect | undefined {
  if (setting === undefined || setting === false) return undefined;
  return { portSuffix: setting === true || setting.port === 443 ? '' : `:${setting.port}` };
}

const NO_HOST: Answer = { kind: 'error', code: 'GW_BAD_REQUEST', message: 'A redirect to HTTPS needs a Host header naming the host.' };

/** The redirect for a request, or undefined when it arrived over HTTPS. Runs after the request target was checked. */
export function httpsRedirect(r: HttpsRedirect, req: IncomingMessage, scan: ScannedHeaders, client: ClientInfo): Answer | undefined {
  if ((req.socket as { encrypted?: boolean }).encrypted === true) return undefined;
  if (client.trusted && scan.xfp !== undefined && firstValue(scan.xfp) === 'https') return undefined;
  const host = hostWithoutPort(scan.host);
  if (host === undefined) return NO_HOST;
  const location = `https://${host}${r.portSuffix}${target(req.url ?? '/')}`;
  // An upgrade request may have other protocol bytes behind it (a WebSocket frame): whichever way
  // node handed it over (Node 24.9+ serves a non-WebSocket upgrade as a plain request), the
  // connection ends with the redirect.
  if (scan.connection !== undefined && /\bupgrade\b/i.test(scan.connection))
    return { kind: 'verdict', verdict: { status: 308, headers: { location, connection: 'close' } } };
  return { kind: 'verdict', verdict: { status: 308, headers: { location } } };
}

/** "a.example:8080" → "a.example", "[::1]:80" → "[::1]"; undefined for none or an empty one. */
function hostWithoutPort(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.lastIndexOf(':') === -1 ? host.length : host.lastIndexOf(':');
  const name = host.slice(0, end);
  return name === '' || name === '[]' ? undefined : name.toLowerCase();
}

/** The leftmost of a comma-separated value (the client-facing proxy's), lower case. */
function firstValue(v: string): string {
  const comma = v.indexOf(',');
  return (comma === -1 ? v : v.slice(0, comma)).trim().toLowerCase();
}

/** Path and query as the client sent them (absolute form: without scheme and authority), ASCII-safe for Location. */
function target(url: string): string {
  let t = url;
  if (t.charCodeAt(0) !== 47 /* / */) {
    const m = /^https?:\/\/[^/?#]*/i.exec(t);
    t = m ? t.slice(m[0].length) : '';
    if (t === '' || t.startsWith('?')) t = '/' + t;
  }
  // node's parser lets some bytes through (as latin1 characters) that a header value may not
  // carry: percent-encode them, byte for byte.
  return /^[\x21-\x7e]*$/.test(t)
    ? t
    : t.replace(/[^\x21-\x7e]/g, (c) => '%' + (c.charCodeAt(0) & 0xff).toString(16).toUpperCase().padStart(2, '0'));
}
