// Server certificates for the SNI, reload and validation tests, made by the openssl CLI at test time
// in a temp directory: a test CA, leaves with any set of DNS names (wildcards too), an expired one,
// PKCS#12 bundles with a passphrase, and a second CA for broken chains.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Leaf {
  name: string;
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
  /** The leaf followed by the CA that issued it (a chain file). */
  chainPath: string;
  fingerprint256: string;
}

export interface LeafOptions {
  /** Subject CN (default: the first DNS name, or the file name). */
  cn?: string;
  /** DNS names for the subjectAltName; none: no SAN extension at all. */
  dns?: string[];
  /** Validity in days; -1 gives a certificate that expired yesterday. */
  days?: number;
  /** Issued by the second CA instead of the first. */
  otherCa?: boolean;
}

export interface CertFactory {
  dir: string;
  /** The CA that issues the leaves (and the client certificates): its PEM and path. */
  ca: { cert: string; certPath: string };
  otherCa: { cert: string; certPath: string };
  leaf(name: string, opts?: LeafOptions): Leaf;
  /** A client certificate issued by the first CA (or the second), CN `cn`. */
  client(name: string, cn: string, otherCa?: boolean): Leaf;
  /** A PKCS#12 bundle of a leaf and its CA, encrypted with `passphrase` (AES, as OpenSSL 3 writes). */
  pkcs12(leaf: Leaf, passphrase: string): string;
  file(name: string, text: string): string;
  cleanup(): void;
}

export function makeCerts(): CertFactory {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const ca of ['ca', 'ca2']) {
    ssl('req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '3650', '-subj', `/CN=Gatehouse TLS Test ${ca}`);
  }
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  const issue = (name: string, cn: string, ext: string, days: number, ca: string): Leaf => {
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      String(days),
      '-extfile',
      `${name}.ext`,
    );
    writeFileSync(join(dir, `${name}.chain.pem`), read(`${name}.pem`) + read(`${ca}.pem`));
    const cert = read(`${name}.pem`);
    return {
      name,
      certPath: join(dir, `${name}.pem`),
      keyPath: join(dir, `${name}.key`),
      cert,
      key: read(`${name}.key`),
      chainPath: join(dir, `${name}.chain.pem`),
      fingerprint256: new X509Certificate(cert).fingerprint256,
    };
  };
  return {
    dir,
    ca: { cert: read('ca.pem'), certPath: join(dir, 'ca.pem') },
    otherCa: { cert: read('ca2.pem'), certPath: join(dir, 'ca2.pem') },
    leaf(name, opts = {}) {
      const dns = opts.dns ?? [];
      const ext = dns.length > 0 ? `subjectAltName=${dns.map((d) => `DNS:${d}`).join(',')}\n` : 'basicConstraints=CA:FALSE\n';
      return issue(name, opts.cn ?? dns[0] ?? name, ext, opts.days ?? 30, opts.otherCa ? 'ca2' : 'ca');
    },
    client(name, cn, otherCa = false) {
      return issue(name, cn, 'extendedKeyUsage=clientAuth\n', 30, otherCa ? 'ca2' : 'ca');
    },
    pkcs12(leaf, passphrase) {
      const out = join(dir, `${leaf.name}.p12`);
      ssl('pkcs12', '-export', '-in', leaf.chainPath, '-inkey', leaf.keyPath, '-out', out, '-passout', `pass:${passphrase}`);
      return out;
    },
    file(name, text) {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
