// A document sent back as the admin API showed it, made whole again before it is validated: its
// "[redacted]" secrets are the running ones (GET /config and GET /consumers/:id never show them, so
// the console's editor and edit form cannot send them), and with ?consumers=keep a config without
// `consumers` keeps the running ones (the editor leaves them out: with 10,000 they belong to the
// Consumers page).
import { REDACTED, redactAt } from '../config/redact.js';
import type { GatehouseConfig } from '../config/schema.js';

export interface SentIssue {
  path: string;
  message: string;
}

const NO_SECRET =
  'is "[redacted]", which stands for the running config\'s secret at this place, and the running config has none here: write the secret itself';

/**
 * The document with its redacted secrets restored from `running` (the whole config, or one consumer
 * for PUT /consumers/:id), and the places where there was nothing to restore.
 */
export function restoreSecrets(sent: unknown, running: unknown): { doc: unknown; issues: SentIssue[] } {
  const issues: SentIssue[] = [];
  const doc = restore(sent, running, '', issues);
  return { doc, issues };
}

/** ?consumers=keep: a document without a `consumers` key gets the running ones. */
export function keepConsumers(doc: unknown, running: GatehouseConfig): unknown {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || Object.hasOwn(doc, 'consumers')) return doc;
  return { ...doc, consumers: running.consumers };
}

function restore(sent: unknown, running: unknown, path: string, issues: SentIssue[]): unknown {
  if (typeof sent === 'string') return restoreString(sent, running, path, issues);
  if (Array.isArray(sent)) {
    const list = Array.isArray(running) ? (running as unknown[]) : [];
    return sent.map((item, i) => restore(item, counterpart(item, list, i, sent.length === list.length), `${path}[${i}]`, issues));
  }
  if (typeof sent !== 'object' || sent === null) return sent;
  const from = typeof running === 'object' && running !== null && !Array.isArray(running) ? (running as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  let kept: string | undefined;
  for (const [k, v] of Object.entries(sent)) {
    const at = path ? `${path}.${k}` : k;
    out[k] = restore(v, Object.hasOwn(from, k) ? from[k] : undefined, at, issues);
    if (v === REDACTED && out[k] !== REDACTED) kept ??= at;
  }
  if (kept !== undefined) boundTo(sent as Record<string, unknown>, out, from, path, kept, issues);
  return out;
}

/** Where a secret goes, or what it is for: a kept secret's siblings of these names must not change. */
const DESTINATION = /^(type|.*(url|uri|endpoint|host))$/i;

/**
 * A secret kept by "[redacted]" stays where it was: the object holding it may change, but not its
 * type or where it is sent (an introspection `endpoint`, a `url`). Otherwise anyone who can post a
 * config could send the running client secret to a server of their own without ever seeing it.
 */
function boundTo(
  sent: Record<string, unknown>,
  out: Record<string, unknown>,
  running: Record<string, unknown>,
  path: string,
  kept: string,
  issues: SentIssue[],
): void {
  for (const k of Object.keys(sent)) {
    if (!DESTINATION.test(k) || sameValue(out[k], running[k])) continue;
    issues.push({
      path: path ? `${path}.${k}` : k,
      message: `changed while ${kept} is "[redacted]" (the running secret, kept): a secret does not follow its object to a new ${k}; write the secret itself`,
    });
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function restoreString(sent: string, running: unknown, path: string, issues: SentIssue[]): unknown {
  if (sent === REDACTED) {
    // Only a value GET /config itself redacts: "[redacted]" never copies a value to where it is shown.
    if (running !== undefined && running !== '' && redactAt(path, running) === REDACTED) return running;
    issues.push({ path, message: NO_SECRET });
    return sent;
  }
  // A URL whose password GET /config replaced ("redis://user:[redacted]@host").
  if (sent.includes(`:${REDACTED}@`) && path.endsWith('url')) {
    if (typeof running === 'string' && redactAt(path, running) === sent) return running;
    issues.push({
      path,
      message: `has the password "[redacted]", and the running config has no such URL here: write the URL with its password`,
    });
  }
  return sent;
}

/**
 * The running entry an entry of a list stands for: the one with the same `id` (consumers,
 * credentials) or `name` (routes), so a secret follows its owner when entries are added, removed or
 * moved; else the entry at the same index, but only in a list of the same length as the running
 * one: after an entry without an id was removed, the next one's "[redacted]" must not become the
 * removed one's key (a revoked API key would live on under another entry).
 */
function counterpart(item: unknown, list: unknown[], index: number, sameLength: boolean): unknown {
  if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
    for (const field of ['id', 'name']) {
      const v = (item as Record<string, unknown>)[field];
      if (typeof v !== 'string') continue;
      const same = list.find((r) => typeof r === 'object' && r !== null && (r as Record<string, unknown>)[field] === v);
      // An id that names no running entry is a new entry: nothing of another one's is its own.
      return same;
    }
  }
  return sameLength ? list[index] : undefined;
}
