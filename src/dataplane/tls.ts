// TLS material for a listener: each value is inline PEM or the path of a PEM file (read once at
// start; listeners cannot change on reload).
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import type { ListenerTlsConfig } from '../config/tls-schema.js';

export function pem(value: string): string {
  return value.trimStart().startsWith('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

export function tlsServerOptions(tls: ListenerTlsConfig): ServerOptions {
  const requestCert = tls.requestCert ?? tls.clientCa !== undefined;
  return {
    cert: pem(tls.cert),
    key: pem(tls.key),
    ca: tls.clientCa !== undefined ? pem(tls.clientCa) : undefined,
    requestCert,
    // An absent or unverified client certificate must not fail the handshake: routes without
    // mtls still serve, and the mtls policy answers 401 with the reason in the log.
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
  };
}

/** Why the TLS settings cannot be used, or undefined (validation). */
export function tlsProblem(tls: ListenerTlsConfig): string | undefined {
  for (const k of ['cert', 'key', 'clientCa'] as const) {
    const v = tls[k];
    if (v === undefined) continue;
    try {
      if (!pem(v).includes('-----BEGIN')) return `${k}: not PEM`;
    } catch (err) {
      return `${k}: cannot read ${v}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
  }
  return undefined;
}
