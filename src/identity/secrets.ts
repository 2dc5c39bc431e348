// How credential secrets are stored and checked. API keys are looked up by their SHA-256 digest
// (so a config may hold only the digest) and compared in constant time. Basic passwords are
// plain or scrypt hashes; both are compared in constant time.
import * as crypto from 'node:crypto';
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

import { SHA256_PREFIX, type ScryptHash } from '../config/secret-formats.js';

// The formats a config writes secrets in are config's (validation checks them without identity).
export { SHA256_PREFIX, apiKeyProblem, passwordProblem, parseScrypt, type ScryptHash } from '../config/secret-formats.js';

// crypto.hash (node ≥ 20.12) is the one-shot form: no Hash object per call, several times faster.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }).hash;

export function sha256(s: string): Buffer {
  return oneShot !== undefined ? oneShot('sha256', s, 'buffer') : createHash('sha256').update(s).digest();
}

/** The digest an API key is indexed by: of the key itself, or given as `sha256:<hex>`. */
export function apiKeyDigest(configured: string): Buffer {
  if (configured.startsWith(SHA256_PREFIX)) return Buffer.from(configured.slice(SHA256_PREFIX.length), 'hex');
  return sha256(configured);
}

/**
 * apiKeyDigest of an api-key credential, remembered for the credential object: a reload that keeps
 * the consumers (a route edit; with 100,000 consumers) hashes none of them again. Held weakly,
 * so a digest goes with its config.
 */
const digests = new WeakMap<object, Buffer>();
export function credentialDigest(cred: { readonly key: string }): Buffer {
  let d = digests.get(cred);
  if (d === undefined) digests.set(cred, (d = apiKeyDigest(cred.key)));
  return d;
}

export function hashApiKey(key: string): string {
  return SHA256_PREFIX + sha256(key).toString('hex');
}

/** Hashes a password in the format Basic credentials accept (gatehouse hash-password). */
export function hashPassword(password: string, N = 16384, r = 8, p = 1): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  return `scrypt:${N}:${r}:${p}:${salt.toString('base64')}:${hash.toString('base64')}`;
}

/** Checks a presented password against a parsed scrypt hash, off the event loop. */
export function verifyScrypt(password: string, h: ScryptHash): Promise<boolean> {
  return new Promise((resolve) => {
    scrypt(password, h.salt, h.hash.length, { N: h.N, r: h.r, p: h.p, maxmem: 256 * h.N * h.r + 1024 * 1024 }, (err, out) => {
      resolve(!err && timingSafeEqual(out, h.hash));
    });
  });
}

/** Constant-time equality of two digests of equal length (false for different lengths). */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
