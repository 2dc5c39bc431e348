// How credential secrets are stored and checked. API keys are looked up by their SHA-256 digest
// (so a config may hold only the digest) and compared in constant time. Basic passwords are
// plain or scrypt hashes; both are compared in constant time.
import * as crypto from 'node:crypto';
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

export const SHA256_PREFIX = 'sha256:';
const SHA256_HEX = /^sha256:[0-9a-fA-F]{64}$/;
const SCRYPT = /^scrypt:(\d+):(\d+):(\d+):([A-Za-z0-9+/]+={0,2}):([A-Za-z0-9+/]+={0,2})$/;

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

export function apiKeyProblem(configured: string): string | undefined {
  if (configured.startsWith(SHA256_PREFIX) && !SHA256_HEX.test(configured)) return 'a hashed key is "sha256:" followed by 64 hex digits';
  return undefined;
}

export function hashApiKey(key: string): string {
  return SHA256_PREFIX + sha256(key).toString('hex');
}

export interface ScryptHash { N: number; r: number; p: number; salt: Buffer; hash: Buffer }

export function parseScrypt(s: string): ScryptHash | undefined {
  const m = SCRYPT.exec(s);
  if (!m) return undefined;
  const N = Number(m[1]), r = Number(m[2]), p = Number(m[3]);
  const hash = Buffer.from(m[5]!, 'base64');
  if (N < 2 || (N & (N - 1)) !== 0 || N > 2 ** 20 || r < 1 || r > 32 || p < 1 || p > 16 || hash.length < 16 || hash.length > 128) return undefined;
  return { N, r, p, salt: Buffer.from(m[4]!, 'base64'), hash };
}

export function passwordProblem(configured: string): string | undefined {
  if (configured.startsWith('scrypt:') && !parseScrypt(configured)) {
    return 'a hashed password is "scrypt:<N>:<r>:<p>:<saltBase64>:<hashBase64>" (N a power of two ≤ 2^20, r ≤ 32, p ≤ 16)';
  }
  return undefined;
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
