// Validation of a listener's TLS section beyond its schema: every certificate loads exactly as the
// listener would load it (files readable, PEM or PKCS#12 that parses, the passphrase, the key
// matching the certificate, the chain in order), the cipher list is one OpenSSL takes, and no name
// is served by two certificates. Each problem is a `path: message` line.
import tls from 'node:tls';
import { certificateSpecs, type CertificateSpec, type ListenerTlsConfig } from '../../config/tls-schema.js';
import { loadCertificate, sharedOptions, TlsMaterialError, type LoadedCertificate } from './material.js';
import { SniTable } from './names.js';
import { tlsPath } from './listener-tls.js';

export interface TlsIssue {
  path: string;
  message: string;
}

/** `at` is the listener's path ("listen[0]"). */
export function tlsIssues(config: ListenerTlsConfig, at: string): TlsIssue[] {
  const out: TlsIssue[] = [];
  if (config.ciphers !== undefined) {
    const why = cipherProblem(config.ciphers, config.minVersion);
    // A list OpenSSL refuses would fail every certificate below with the same words.
    if (why !== undefined) return [{ path: `${at}.tls.ciphers`, message: why }];
  }
  const shared = sharedOptions(config);
  const loaded: { spec: CertificateSpec; cert: LoadedCertificate }[] = [];
  for (const spec of certificateSpecs(config)) {
    try {
      loaded.push({ spec, cert: loadCertificate(spec, shared) });
    } catch (err) {
      const field = err instanceof TlsMaterialError ? err.field : '';
      out.push({ path: tlsPath(at, spec, field), message: (err as Error).message });
    }
  }
  const table = new SniTable(loaded.map((l) => ({ names: l.cert.info.names, value: l })));
  for (const k of table.conflicts) {
    out.push({
      path: tlsPath(at, loaded[k.shadowed]!.spec),
      message: `"${k.name}" is also a name of ${tlsPath(at, loaded[k.kept]!.spec)}: each name is served by one certificate`,
    });
  }
  for (const { spec, cert } of loaded) {
    if (cert.info.names.length === 0 && !spec.default && loaded.length > 1)
      out.push({
        path: tlsPath(at, spec),
        message: `the certificate (${cert.info.subject}) has no DNS name in its subjectAltName or CN, so SNI never selects it; only the default certificate may have none`,
      });
  }
  return out;
}

function cipherProblem(ciphers: string, minVersion: tls.SecureVersion): string | undefined {
  try {
    tls.createSecureContext({ ciphers, minVersion });
  } catch (err) {
    return `not a cipher list OpenSSL accepts (${(err as Error).message})`;
  }
  if (minVersion === 'TLSv1.2' && !ciphers.split(':').some((c) => c.startsWith('TLS_'))) {
    return 'the list has no TLS 1.3 suite (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256), which turns TLS 1.3 off; add at least one';
  }
  return undefined;
}
