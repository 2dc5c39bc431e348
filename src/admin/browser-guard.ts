// An admin API without a token relies on being reachable only from this machine. A browser on this
// machine reaches it too: a page of any site can POST to http://127.0.0.1:9876/config (a "simple"
// cross-origin request needs no preflight), and a site that re-points its own name at 127.0.0.1
// (DNS rebinding) can even read the answers. Without a token the admin API therefore answers only
// requests whose Host is a loopback name or an address (a rebinding page's Host is its own domain)
// and that carry no Origin but their own (a cross-origin page's fetch always sends one). With a
// token none of this is needed: a page cannot attach the token to a cross-origin request.
import { isIP } from 'node:net';

/** The request headers the guard reads (node's `req.headersDistinct`: a repeated header is an array). */
export interface GuardHeaders {
  host?: string[] | undefined;
  origin?: string[] | undefined;
  'sec-fetch-site'?: string[] | undefined;
}

/** Whether a request may be a browser page of another site, or sent under a rebound host name. */
export function foreignBrowserRequest(headers: GuardHeaders, adminHost: string): boolean {
  const hosts = headers.host ?? [];
  const origins = headers.origin ?? [];
  // Two Hosts or two Origins: no browser sends that, and which one a check reads is a guess.
  if (hosts.length > 1 || origins.length > 1) return true;
  // A browser that says the request is from another site is believed (it cannot be made to lie).
  if (headers['sec-fetch-site']?.some((v) => v.toLowerCase() === 'cross-site')) return true;
  const host = hosts[0];
  const origin = origins[0];
  // Every browser sends Host; a request without one (an HTTP/1.0 health check) is not a page's.
  if (host === undefined) return origin !== undefined;
  if (!localHostHeader(host, adminHost)) return true;
  if (origin === undefined) return false;
  try {
    // Same origin only, scheme included (a page the admin API itself serves, over plain HTTP).
    // "null" (sandboxed, file:) is foreign.
    return new URL(origin).origin !== new URL(`http://${host}`).origin;
  } catch {
    return true;
  }
}

/** A Host header naming an IP address, localhost (or a *.localhost name), or the admin listener's own host. */
function localHostHeader(host: string, adminHost: string): boolean {
  let name: string;
  if (host.startsWith('[')) {
    // "[v6]" or "[v6]:port", nothing else after the bracket ("[::1]x.evil.example" is not local).
    const m = /^\[([^\]]+)\](?::\d*)?$/.exec(host);
    if (!m) return false;
    name = m[1]!;
  } else {
    const colon = host.indexOf(':');
    name = colon < 0 ? host : host.slice(0, colon);
    if (colon >= 0 && !/^\d*$/.test(host.slice(colon + 1))) return false;
  }
  name = name.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || name === adminHost.toLowerCase();
}
