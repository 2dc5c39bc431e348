// An admin API without a token relies on being reachable only from this machine. A browser on this
// machine reaches it too: a page of any site can POST to http://127.0.0.1:9876/config (a "simple"
// cross-origin request needs no preflight), and a site that re-points its own name at 127.0.0.1
// (DNS rebinding) can even read the answers. Without a token the admin API therefore answers only
// requests whose Host is a loopback name or an address (a rebinding page's Host is its own domain)
// and that carry no Origin but their own (a cross-origin page's fetch always sends one). With a
// token none of this is needed: a page cannot attach the token to a cross-origin request.
import { isIP } from 'node:net';

/** Whether a request may be a browser page of another site, or sent under a rebound host name. */
export function foreignBrowserRequest(host: string | undefined, origin: string | undefined, adminHost: string): boolean {
  if (host === undefined || !localHostHeader(host, adminHost)) return true;
  if (origin === undefined) return false;
  try {
    // Same origin only (a page the admin API itself serves). "null" (sandboxed, file:) is foreign.
    return new URL(origin).host !== new URL(`http://${host}`).host;
  } catch {
    return true;
  }
}

/** A Host header naming an IP address, localhost (or a *.localhost name), or the admin listener's own host. */
function localHostHeader(host: string, adminHost: string): boolean {
  let name: string;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return false;
    name = host.slice(1, end);
  } else {
    const colon = host.indexOf(':');
    name = colon < 0 ? host : host.slice(0, colon);
  }
  name = name.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || name === adminHost.toLowerCase();
}
