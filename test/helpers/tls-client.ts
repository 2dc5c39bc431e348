// A TLS client for the SNI tests: which certificate a listener serves for a name (or none), and
// HTTPS requests with a chosen SNI name and optional client certificate.
import https from 'node:https';
import tls from 'node:tls';

export interface Served {
  cn: string | undefined;
  fingerprint256: string;
  alpn: string | false | null;
  protocol: string | null;
}

export interface HandshakeOptions {
  servername?: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
  ALPNProtocols?: string[];
  cert?: string;
  key?: string;
}

/** Completes a handshake and tells what the server presented; rejects with the TLS error. */
export function handshake(port: number, opts: HandshakeOptions = {}): Promise<Served> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      const peer = sock.getPeerCertificate();
      const served: Served = {
        cn: typeof peer.subject.CN === 'string' ? peer.subject.CN : undefined,
        fingerprint256: peer.fingerprint256,
        alpn: sock.alpnProtocol,
        protocol: sock.getProtocol(),
      };
      sock.end();
      resolve(served);
    });
    sock.on('error', reject);
  });
}

/** The error code of a handshake that must fail (fails the test if it succeeds). */
export async function handshakeError(port: number, opts: HandshakeOptions = {}): Promise<string> {
  try {
    const s = await handshake(port, opts);
    throw new Error(`handshake succeeded (served ${s.cn})`);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.message.startsWith('handshake succeeded')) throw e;
    return e.code ?? e.message;
  }
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET over HTTPS on 127.0.0.1 with SNI `servername` and Host `host` (default: the SNI name). */
export function httpsGet(
  port: number,
  path: string,
  opts: { servername: string; host?: string; cert?: string; key?: string; ca?: string },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        servername: opts.servername,
        headers: { host: opts.host ?? opts.servername },
        rejectUnauthorized: false,
        cert: opts.cert,
        key: opts.key,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
