// Secrets never leave the gateway: GET /config and logs show "[redacted]" in their place.
// A value is secret by its key name, whatever section it is in, so later sections (credentials,
// OAuth clients) are covered without each remembering to opt in.

const SECRET_KEYS = new Set(['token', 'password', 'key', 'secret', 'clientsecret', 'privatekey', 'apikey']);
export const REDACTED = '[redacted]';

export function redactSecrets<T>(value: T): T {
  return walk(value) as T;
}

function walk(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(walk);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = SECRET_KEYS.has(k.toLowerCase()) && typeof x === 'string' && x !== '' ? REDACTED : walk(x);
  }
  return out;
}
