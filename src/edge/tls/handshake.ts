// Two things node's TLS server has no public API for, done on the connection inside the SNI
// callback (before the server's first flight): asking for a client certificate per certificate
// rather than per server, and refusing a name with the alert TLS has for it. Both are covered by
// test/tls-sni.test.ts on Node 20 and 24; if node ever changes underneath, those tests fail.
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';

/** TLS alert record: level fatal (2), description unrecognized_name (112) — RFC 8446 §6, RFC 6066 §3. */
const UNRECOGNIZED_NAME = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70]);

/** The parts of node's server-side TLSSocket used here (lib/_tls_wrap.js). */
interface TlsSocketInternals {
  _handle?: { setVerifyMode?: (request: boolean, reject: boolean) => void } | null;
  /** Whether `authorized` is computed when the handshake ends. */
  _requestCert?: boolean;
  /** The TCP socket under the TLS one. */
  _parent?: Socket | null;
}

/**
 * Asks (or stops asking) this connection's client for a certificate. The server-wide setting was
 * applied when the connection was accepted; the chosen certificate's own setting wins here.
 * Never rejects: an absent or unverified certificate is the mtls policy's to answer.
 */
export function setClientCertificateRequest(socket: unknown, request: boolean): void {
  const s = socket as TlsSocketInternals | undefined;
  if (s === undefined || s._requestCert === request) return;
  const handle = s._handle;
  if (typeof handle?.setVerifyMode !== 'function') return;
  handle.setVerifyMode(request, false);
  s._requestCert = request;
}

/**
 * Fails the handshake for a name no certificate covers: an unrecognized_name alert in the clear
 * (nothing has been sent yet, so it is a plain record), then the connection is closed.
 */
export function refuseHandshake(
  socket: Socket | undefined,
  servername: string,
  cb: (err: Error | null, ctx?: SecureContext) => void,
): void {
  const err = new Error(`no certificate for the server name ${JSON.stringify(servername.slice(0, 253))}`);
  const raw = (socket as TlsSocketInternals | undefined)?._parent;
  if (raw === undefined || raw === null || !raw.writable) return cb(err);
  raw.write(UNRECOGNIZED_NAME, () => cb(err));
}
