// Secrets never leave the gateway: GET /config and logs show "[redacted]" in their place.
// A value is secret by its key name, whatever section it is in, so later sections (credentials,
// OAuth clients) are covered without each remembering to opt in.

const SECRET_KEYS = new Set(['token', 'password', 'key', 'secret', 'clientsecret', 'privatekey', 'apikey', 'passphrase']);
/** The private members of a JWK (RFC 7518 §6): an HMAC key `k`, an RSA or EC private key. */
const JWK_PRIVATE = new Set(['k', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'oth']);
export const REDACTED = '[redacted]';

export function redactSecrets<T>(value: T): T {
  return walk(value) as T;
}

function walk(v: unknown, jwk = false): unknown {
  if (Array.isArray(v)) return v.map((x) => walk(x));
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const secret = SECRET_KEYS.has(k.toLowerCase()) || (jwk && JWK_PRIVATE.has(k));
    if (k === 'url' && typeof x === 'string') out[k] = withoutPassword(x);
    else out[k] = secret && x !== '' && x !== undefined && (typeof x === 'string' || jwk) ? REDACTED : walk(x, k === 'jwk');
  }
  return out;
}

/** A URL's password (a database's or a store's, `scheme://user:password@host`) is a secret too. */
function withoutPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, `$1:${REDACTED}@`);
}

/**
 * A value found at `path` (`a.b[0].c`, as a config diff names it) redacted as it would be inside
 * the whole config: a leaf's key name is in its path, not in the value.
 */
export function redactAt(path: string, value: unknown): unknown {
  if (value === undefined) return undefined;
  const names = path.split(/\.|(?=\[)/);
  const last = names[names.length - 1] ?? '';
  // An array entry is redacted as walk redacts the entries of a list (by their own contents).
  if (last.startsWith('[')) return walk(value);
  const parent = names[names.length - 2];
  const wrapped = walk(parent === 'jwk' ? { jwk: { [last]: value } } : { [last]: value }) as Record<string, unknown>;
  return parent === 'jwk' ? (wrapped.jwk as Record<string, unknown>)[last] : wrapped[last];
}

/** A config diff's changes with their values redacted by their paths (see redactAt). */
export function redactChanges<C extends { path: string; before?: unknown; after?: unknown }>(changes: C[]): C[] {
  return changes.map((c) => ({ ...c, before: redactAt(c.path, c.before), after: redactAt(c.path, c.after) }));
}
