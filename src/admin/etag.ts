// Optimistic concurrency for the admin API: every resource answer carries an ETag, and an edit
// sent with If-Match (or If-None-Match: *) is refused with 412 when the resource is no longer what
// the client read. An ETag is a hash of the resource's own canonical JSON, not the config version:
// an edit of route A leaves route B's ETag alone, so two tools editing different resources never
// refuse each other. The hash is keyed with a secret drawn at start: the JSON includes secrets (API
// keys, passwords), and a plain hash of a known document would let a low-entropy one be guessed
// offline. ETags therefore change on restart, which only ever costs a client one 412.
import type { IncomingMessage } from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { Refusal } from './edits.js';

const KEY = randomBytes(32);
/** The whole config's ETag, computed once per config object (configs are replaced, never changed). */
const memo = new WeakMap<object, string>();

/** JSON with every object's keys sorted, so equal values give equal text whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const keys = Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined, functions and symbols stringify to undefined (its types say string)
  return JSON.stringify(v) ?? 'null';
}

/** A strong ETag of a resource (undefined: it does not exist, and has none). */
export function etagOf(resource: unknown): string | undefined {
  if (resource === undefined) return undefined;
  if (typeof resource === 'object' && resource !== null) {
    const known = memo.get(resource);
    if (known !== undefined) return known;
  }
  const tag = `"${createHmac('sha256', KEY).update(canonicalJson(resource)).digest('base64url').slice(0, 27)}"`;
  if (typeof resource === 'object' && resource !== null) memo.set(resource, tag);
  return tag;
}

/** The tags of an If-Match / If-None-Match value: `*`, or a list of quoted (possibly weak) tags. */
function tags(value: string): string[] {
  return value.split(',').map((t) => t.trim());
}

/**
 * Refuses an edit whose preconditions do not hold for `current` (the resource's value now, undefined
 * when absent). If-Match compares strongly (a weak tag never matches); `*` means "exists".
 * If-None-Match compares weakly; If-None-Match: * means "create only". Runs inside the edit queue, on the newest config.
 */
export function checkPreconditions(req: IncomingMessage, current: unknown, what: string): void {
  const ifMatch = req.headers['if-match'];
  const ifNoneMatch = req.headers['if-none-match'];
  const tag = etagOf(current);
  if (ifMatch !== undefined) {
    const list = tags(ifMatch);
    const ok = tag !== undefined && (list.includes('*') || list.includes(tag));
    if (!ok)
      throw new Refusal(
        'ADMIN_PRECONDITION_FAILED',
        tag === undefined
          ? `${what} does not exist (If-Match)`
          : `${what} has changed since it was read (If-Match: its ETag is now ${tag})`,
      );
  }
  if (ifNoneMatch !== undefined) {
    // Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    const list = tags(ifNoneMatch).map((t) => (t.startsWith('W/') ? t.slice(2) : t));
    if (tag !== undefined && (list.includes('*') || list.includes(tag)))
      throw new Refusal('ADMIN_PRECONDITION_FAILED', `${what} already exists (If-None-Match)`);
  }
}

export const MAX_PAGE = 1000;

/**
 * A page of `items` sorted by `key`: the ones after the `after` cursor, at most `limit`. `next` is the
 * cursor of the following page (the last key given), or null at the end. Keys are unique names or
 * ids, so the order is stable and an item added or removed between pages never shifts the others.
 */
export function page<T>(
  url: string | undefined,
  items: readonly T[],
  key: (item: T) => string,
  sorted?: readonly T[],
): { items: readonly T[]; next: string | null } | undefined {
  const q = new URLSearchParams((url ?? '').split('?')[1] ?? '');
  const limitText = q.get('limit');
  const after = q.get('after') ?? q.get('cursor');
  if (limitText === null && after === null) return undefined;
  const limit = limitText === null ? MAX_PAGE : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
    throw new Refusal('ADMIN_BAD_QUERY', `limit is a whole number from 1 to ${MAX_PAGE}`);
  const list = sorted ?? [...items].sort((a, b) => compare(key(a), key(b)));
  let lo = 0;
  if (after !== null) {
    // The first key past the cursor, by binary search (the cursor itself may be gone by now).
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(key(list[mid]!), after) <= 0) lo = mid + 1;
      else hi = mid;
    }
  }
  const out = list.slice(lo, lo + limit);
  return { items: out, next: lo + limit < list.length ? key(out[out.length - 1]!) : null };
}

/** Code-unit order: the same on every platform and locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const sortedMemo = new WeakMap<object, unknown[]>();

/** `items` sorted by `key`, kept per list object (a consumer list is replaced on each change). */
export function sortedBy<T>(items: readonly T[], key: (item: T) => string): readonly T[] {
  let s = sortedMemo.get(items) as T[] | undefined;
  if (s === undefined) {
    s = [...items].sort((a, b) => compare(key(a), key(b)));
    sortedMemo.set(items, s);
  }
  return s;
}
