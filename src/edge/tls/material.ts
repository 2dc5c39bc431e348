// One certificate of a listener, loaded: its files read (or inline PEM, or a PKCS#12 bundle),
// checked (it parses, the key matches, the chain is in order), described (names, expiry) and made
// into the SecureContext handshakes use. Used at start, on reload and by validation, so a config
// error and a bad renewed file are refused for the same reasons, in the same words.
import { X509Certificate, constants, createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import tls from 'node:tls';
import type { CertificateSpec } from '../../config/tls-schema.js';
import { certificateNames } from './names.js';

/** A certificate that cannot be used; `field` is the config key at fault ('' for the whole entry). */
export class TlsMaterialError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** TLS 1.3 suites, then forward-secret AEAD suites for TLS 1.2 (Mozilla's "intermediate" without DHE). */
export const DEFAULT_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** What every context of a listener shares. */
export interface SharedTlsOptions {
  minVersion: tls.SecureVersion;
  ciphers: string;
  secureOptions: number;
}

/**
 * No renegotiation (TLS 1.2; TLS 1.3 has none): node keeps a connection's `authorized` from its
 * first handshake, so a client that renegotiated with another certificate (self-signed, any
 * subject) was taken by mtls for whoever that certificate names. Each one is also a full
 * handshake's work for the server.
 */
export const NO_RENEGOTIATION = constants.SSL_OP_NO_RENEGOTIATION;

/** What GET /certificates shows of a certificate (never key material). */
export interface CertificateInfo {
  subject: string;
  /** The names it is served for: its DNS subjectAltNames, or its subject CN when it has none. */
  names: string[];
  subjectAltName: string | undefined;
  issuer: string;
  notBefore: string;
  notAfter: string;
  serialNumber: string;
  fingerprint256: string;
}

export interface LoadedCertificate {
  readonly spec: CertificateSpec;
  /** Absolute paths of the files it was read from (watched for changes). */
  readonly files: readonly string[];
  /** The files' identity (device, inode, size, mtime) taken before they were read. */
  readonly signature: string;
  /** The options the context was made from: the server's own context is rebuilt from them. */
  readonly contextOptions: tls.SecureContextOptions;
  readonly context: tls.SecureContext;
  readonly requestCert: boolean;
  /** Its client-certificate settings as one key (client-scope.ts): equal keys verify alike. */
  readonly clientScope: string;
  readonly info: CertificateInfo;
  readonly notAfterMs: number;
  readonly loadedAt: string;
}

export function sharedOptions(t: { minVersion: tls.SecureVersion; ciphers?: string | undefined }): SharedTlsOptions {
  return { minVersion: t.minVersion, ciphers: t.ciphers ?? DEFAULT_CIPHERS, secureOptions: NO_RENEGOTIATION };
}

const isInline = (v: string) => v.trimStart().startsWith('-----BEGIN');

/** The files a certificate is read from (inline PEM has none). */
export function certificateFiles(spec: CertificateSpec): string[] {
  return [spec.pfx, spec.cert, spec.key, spec.clientCa].filter((v): v is string => v !== undefined && !isInline(v)).map((v) => resolve(v));
}

/** Identity of the files: a changed one (rewritten, or a symlink now pointing elsewhere) changes it. */
export function filesSignature(files: readonly string[]): string {
  return files
    .map((f) => {
      try {
        const s = statSync(f, { bigint: true });
        return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
      } catch (err) {
        return `-${(err as NodeJS.ErrnoException).code ?? 'error'}`;
      }
    })
    .join('|');
}

export function loadCertificate(spec: CertificateSpec, shared: SharedTlsOptions, now = Date.now()): LoadedCertificate {
  clientCertificateProblem(spec);
  const files = certificateFiles(spec);
  const signature = filesSignature(files);
  const clientCa = spec.clientCa === undefined ? undefined : readPem('clientCa', spec.clientCa);
  if (clientCa !== undefined) parseCertificates('clientCa', clientCa);
  let contextOptions: tls.SecureContextOptions;
  let leaf: X509Certificate;
  if (spec.pfx !== undefined) {
    const pfx = readFile('pfx', spec.pfx);
    contextOptions = { pfx, passphrase: spec.passphrase, ca: clientCa };
    const context = secureContext(contextOptions, shared, pkcs12Problem);
    leaf = new X509Certificate(leafOf(context));
    return describe(spec, files, signature, contextOptions, context, leaf, now);
  }
  const certPem = readPem('cert', spec.cert!);
  const chain = parseCertificates('cert', certPem);
  leaf = chain[0]!;
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) {
      throw new TlsMaterialError(
        'cert',
        `the chain is broken: certificate ${i + 2} (${oneLine(chain[i + 1]!.subject)}) did not issue certificate ${i + 1} (${oneLine(chain[i]!.subject)}); list the leaf first, then each issuer`,
      );
    }
  }
  const keyPem = readPem('key', spec.key!);
  const key = privateKey(keyPem, spec.passphrase);
  if (!leaf.checkPrivateKey(key)) {
    throw new TlsMaterialError('key', `the key does not match the certificate (${oneLine(leaf.subject)})`);
  }
  contextOptions = { cert: certPem, key: keyPem, passphrase: spec.passphrase, ca: clientCa };
  const context = secureContext(contextOptions, shared, (m) => m);
  return describe(spec, files, signature, contextOptions, context, leaf, now);
}

/** Client-certificate settings that would verify client certificates against CAs nobody named. */
function clientCertificateProblem(spec: CertificateSpec): void {
  const requestCert = spec.requestCert ?? spec.clientCa !== undefined;
  if (!requestCert) return;
  // Without `ca`, node verifies against its whole trust store (tls.createSecureContext).
  if (spec.clientCa === undefined)
    throw new TlsMaterialError(
      'requestCert',
      'asking for client certificates needs clientCa: without it they are verified against every CA node trusts (its public root list, NODE_EXTRA_CA_CERTS), so any of those could vouch for a consumer',
    );
  // node's loadPKCS12 adds every CA certificate of the bundle to the context's verify store, and
  // there is no API to take them out: the server certificate's issuer would vouch for clients.
  if (spec.pfx !== undefined)
    throw new TlsMaterialError(
      'pfx',
      "a PKCS#12 certificate cannot ask for client certificates (clientCa, requestCert): node also trusts the bundle's own CA certificates for them, so a client certificate from the server certificate's issuer would pass; give this certificate as cert and key PEM files (openssl pkcs12 -in bundle.p12 -nodes), or set requestCert: false on it",
    );
}

function describe(
  spec: CertificateSpec,
  files: string[],
  signature: string,
  contextOptions: tls.SecureContextOptions,
  context: tls.SecureContext,
  leaf: X509Certificate,
  now: number,
): LoadedCertificate {
  const notAfterMs = Date.parse(leaf.validTo);
  const requestCert = spec.requestCert ?? spec.clientCa !== undefined;
  const ca = contextOptions.ca;
  return {
    spec,
    files,
    signature,
    contextOptions,
    context,
    requestCert,
    clientScope: requestCert
      ? `ask:${createHash('sha256')
          .update(typeof ca === 'string' ? ca : '')
          .digest('base64')}`
      : 'none',
    notAfterMs,
    loadedAt: new Date(now).toISOString(),
    info: {
      subject: oneLine(leaf.subject),
      names: certificateNames(leaf),
      subjectAltName: leaf.subjectAltName,
      issuer: oneLine(leaf.issuer),
      notBefore: new Date(Date.parse(leaf.validFrom)).toISOString(),
      notAfter: new Date(notAfterMs).toISOString(),
      serialNumber: leaf.serialNumber,
      fingerprint256: leaf.fingerprint256,
    },
  };
}

/** "CN=a\nO=b" (node's form) as "CN=a, O=b". */
function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

/** Base64 key material (one line, no PEM armour) is long runs of its alphabet; a path's names are not. */
const BASE64_RUN = /[A-Za-z0-9+]{32,}/;

/** Certificate, key and CA files are small (a bundle of every public root is about 220 kB). */
const MAX_FILE_BYTES = 1024 * 1024;

function readFile(field: string, path: string): Buffer {
  // A value that is no path (inline material where a file is expected) is never echoed.
  if (isInline(path) || path.length > 1024 || /[\r\n]/.test(path))
    throw new TlsMaterialError(field, 'expected the path of a file (inline material is not accepted here)');
  let size: number | undefined;
  try {
    const s = statSync(resolve(path));
    // Reading a FIFO or a device blocks (or never ends): the whole process would stop serving,
    // at start or when a renewal swaps one in. A directory still gets its EISDIR below.
    if (!s.isFile() && !s.isDirectory()) size = -1;
    else if (s.size > MAX_FILE_BYTES) size = s.size;
    else return readFileSync(resolve(path));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    if (BASE64_RUN.test(path))
      throw new TlsMaterialError(
        field,
        `cannot read it as a file (${why}); the value is not shown: it looks like base64 key material, not a path (inline material must be PEM)`,
      );
    throw new TlsMaterialError(field, `cannot read ${path}: ${why}`);
  }
  throw new TlsMaterialError(
    field,
    size === -1
      ? `${path} is not a regular file (a FIFO, socket or device)`
      : `${path} is larger than 1 MiB (${size} bytes): not a certificate or key file`,
  );
}

/** Inline PEM, or the text of a PEM file. */
function readPem(field: string, value: string): string {
  if (isInline(value)) return value;
  const text = readFile(field, value).toString('utf8');
  if (!text.includes('-----BEGIN')) throw new TlsMaterialError(field, `${value} is not PEM (no "-----BEGIN" line)`);
  return text;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parseCertificates(field: string, pem: string): X509Certificate[] {
  const blocks = pem.match(CERT_BLOCK);
  if (!blocks) throw new TlsMaterialError(field, 'no certificate in it (expected a "-----BEGIN CERTIFICATE-----" block)');
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new TlsMaterialError(field, `certificate ${i + 1} cannot be parsed (${reason(err)})`);
    }
  });
}

function privateKey(pem: string, passphrase: string | undefined): KeyObject {
  // OpenSSL's answer to an encrypted key without a passphrase is "interrupted or cancelled".
  if (passphrase === undefined && /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem))
    throw new TlsMaterialError('passphrase', 'the key is encrypted: set passphrase');
  try {
    return createPrivateKey({ key: pem, format: 'pem', passphrase });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MISSING_PASSPHRASE') throw new TlsMaterialError('passphrase', 'the key is encrypted: set passphrase');
    if (passphrase !== undefined && /bad decrypt/i.test(reason(err)))
      throw new TlsMaterialError('passphrase', 'cannot decrypt the key: wrong passphrase');
    throw new TlsMaterialError('key', `not a usable private key (${reason(err)})`);
  }
}

function secureContext(
  options: tls.SecureContextOptions,
  shared: SharedTlsOptions,
  explain: (message: string) => string | TlsMaterialError,
): tls.SecureContext {
  try {
    return tls.createSecureContext({ ...options, ...shared });
  } catch (err) {
    const why = explain(reason(err));
    throw why instanceof TlsMaterialError ? why : new TlsMaterialError('', why);
  }
}

function pkcs12Problem(message: string): TlsMaterialError {
  if (/mac verify failure|invalid password|bad decrypt/i.test(message))
    return new TlsMaterialError('passphrase', 'cannot open the PKCS#12 file: wrong passphrase');
  if (/unsupported/i.test(message))
    return new TlsMaterialError(
      'pfx',
      `the PKCS#12 file uses an algorithm OpenSSL 3 no longer loads (RC2 or 3DES); export it again with AES (openssl pkcs12 -export -keypbe AES-256-CBC -certpbe AES-256-CBC) (${message})`,
    );
  return new TlsMaterialError('pfx', `not a usable PKCS#12 file (${message})`);
}

/**
 * The leaf certificate of a context made from a PKCS#12 bundle, as DER. Node has no PKCS#12
 * parser; the native context's getCertificate() is what its documented OCSPRequest event hands out.
 */
function leafOf(context: tls.SecureContext): Buffer {
  const native = (context as { context?: { getCertificate?: () => Buffer | null } }).context;
  const der = typeof native?.getCertificate === 'function' ? native.getCertificate() : null;
  if (!der) throw new TlsMaterialError('pfx', 'the PKCS#12 file holds no certificate with its key');
  return der;
}

function reason(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  // OpenSSL's "error:0A00018E:SSL routines::ca md too weak" → the readable part.
  return m.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/, '').trim();
}
