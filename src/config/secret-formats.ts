// How a config writes a credential's secret: an API key plain or as "sha256:<hex>", a Basic
// password plain or as an scrypt hash. Here, in config, so that validation checks the formats
// without the identity layer; identity/secrets.ts hashes and compares.
export const SHA256_PREFIX = 'sha256:';
const SHA256_HEX = /^sha256:[0-9a-fA-F]{64}$/;
const SCRYPT = /^scrypt:(\d+):(\d+):(\d+):([A-Za-z0-9+/]+={0,2}):([A-Za-z0-9+/]+={0,2})$/;

export function apiKeyProblem(configured: string): string | undefined {
  if (configured.startsWith(SHA256_PREFIX) && !SHA256_HEX.test(configured)) return 'a hashed key is "sha256:" followed by 64 hex digits';
  return undefined;
}

export interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

export function parseScrypt(s: string): ScryptHash | undefined {
  const m = SCRYPT.exec(s);
  if (!m) return undefined;
  const N = Number(m[1]),
    r = Number(m[2]),
    p = Number(m[3]);
  const hash = Buffer.from(m[5]!, 'base64');
  if (N < 2 || (N & (N - 1)) !== 0 || N > 2 ** 20 || r < 1 || r > 32 || p < 1 || p > 16 || hash.length < 16 || hash.length > 128)
    return undefined;
  return { N, r, p, salt: Buffer.from(m[4]!, 'base64'), hash };
}

export function passwordProblem(configured: string): string | undefined {
  if (configured.startsWith('scrypt:') && !parseScrypt(configured)) {
    return 'a hashed password is "scrypt:<N>:<r>:<p>:<saltBase64>:<hashBase64>" (N a power of two ≤ 2^20, r ≤ 32, p ≤ 16)';
  }
  return undefined;
}
