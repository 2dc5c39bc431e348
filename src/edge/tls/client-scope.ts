// Which client-certificate settings a TLS connection was made under, for the mtls policy. With a
// clientCa per certificate, a client certificate is verified against the CAs of the certificate
// SNI chose; a request on that connection whose Host belongs to a certificate with other CAs (or
// none) must not count as authenticated for that host — else a certificate from one partner's CA
// could reach another partner's routes by naming their host. nginx answers such a request 421.

/** The settings a handshake used: clientCa and requestCert, as one comparable key. */
export type ClientScope = string;

/** What a listener tells about its certificates (ListenerTls). */
export interface ScopeSource {
  /** The scope of the certificate `host` would select; undefined when none would (refused names). */
  scopeOf(host: string): ClientScope | undefined;
  /** The scope of a connection without SNI (the server's own context). */
  readonly defaultScope: ClientScope | undefined;
  /** Whether any two certificates differ in scope (else nothing can mismatch). */
  readonly mixed: boolean;
}

const CHOSEN = Symbol('gatehouse.tls.clientScope');
const SOURCE = Symbol('gatehouse.tls.scopeSource');

/** Remembers the scope of the certificate SNI chose, on the connection. */
export function markScope(socket: unknown, scope: ClientScope): void {
  if (typeof socket === 'object' && socket !== null) (socket as Record<symbol, unknown>)[CHOSEN] = scope;
}

/** Ties a server to its listener's certificates (sockets find it through `socket.server`). */
export function markServer(server: object, source: ScopeSource): void {
  (server as Record<symbol, unknown>)[SOURCE] = source;
}

/**
 * Why a TLS connection's client certificate does not vouch for `host`, or undefined when it does
 * (or the listener has one client-certificate setting for all its names). `host` is normalized
 * (lower case, no port).
 */
export function scopeMismatch(socket: { server?: unknown; servername?: string | false | null }, host: string): string | undefined {
  const source = (socket.server as Record<symbol, ScopeSource | undefined> | undefined)?.[SOURCE];
  if (source === undefined || !source.mixed) return undefined;
  const chosen = (socket as Record<symbol, ClientScope | undefined>)[CHOSEN] ?? source.defaultScope;
  if (host !== '' && source.scopeOf(host) === chosen) return undefined;
  const sni = typeof socket.servername === 'string' ? `SNI ${JSON.stringify(socket.servername)}` : 'no SNI';
  return `the client certificate was checked for ${sni}, whose certificate has other client CAs than Host ${JSON.stringify(host)}`;
}
