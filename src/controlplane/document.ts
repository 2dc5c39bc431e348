// The stored document and the boot file: what is stored is the validated config without the
// boot keys (listen, admin, workers, server, log, configStore), which stay each instance's own.
// One instance's config is its boot keys plus the stored document.
import { BOOT_KEYS } from '../config/config-store-schema.js';
import type { GatehouseConfig } from '../config/schema.js';
import { isValidConsumerList, validateConfig, type ConfigIssue, type ValidationResult } from '../validation/validate.js';
import { compilePlan, noConnect, PluginCreateError } from '../dataplane/plan.js';

export type StoredDocument = Record<string, unknown>;

const BOOT = new Set<string>(BOOT_KEYS);

/** The part of a config that is stored (plain JSON: what JSONB holds and gives back). */
export function storedPart(config: GatehouseConfig | Record<string, unknown>): StoredDocument {
  const out: StoredDocument = {};
  for (const [k, v] of Object.entries(config)) if (!BOOT.has(k) && v !== undefined) out[k] = v;
  return JSON.parse(JSON.stringify(out)) as StoredDocument;
}

/** A plain-JSON document (a stored one) without the boot keys: the same objects, not a copy. */
export function withoutBootKeys(doc: StoredDocument): StoredDocument {
  const out: StoredDocument = {};
  for (const [k, v] of Object.entries(doc)) if (!BOOT.has(k) && v !== undefined) out[k] = v;
  return out;
}

/** The boot keys of a config. */
export function bootPart(config: GatehouseConfig | Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (BOOT.has(k) && v !== undefined) out[k] = v;
  return out;
}

/** Keys of a boot file that belong in the store: with configStore, they are an error there. */
export function storedKeysIn(doc: unknown): string[] {
  if (typeof doc !== 'object' || doc === null) return [];
  return Object.keys(doc).filter((k) => !BOOT.has(k));
}

/**
 * Keys of a validated config (boot keys plus whatever else was given) that are not what the boot
 * keys alone give: with configStore those would be silently replaced by the store's.
 */
export function shadowedKeys(config: GatehouseConfig): string[] {
  const bare = validateConfig(bootPart(config));
  if (!bare.ok) return [];
  const given = storedPart(config);
  const defaults = storedPart(bare.config);
  return Object.keys(given).filter((k) => canonical(given[k]) !== canonical(defaults[k]));
}

/**
 * Boot keys plus a stored document, validated the way POST /config validates: the schema, then
 * one compile (a plugin that cannot create its policy is an error at its entry).
 */
export function validateStored(
  boot: Record<string, unknown>,
  doc: unknown,
  /** Compile too (default): false when the caller compiles the config itself right after. */
  compile = true,
): ValidationResult {
  // Another writer (or a hand edit) may have stored any JSON: JSON null would throw below, and a
  // throw in a version check reads as a lost database, logged again at every check.
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return { ok: false, errors: [{ path: '(document)', message: 'a stored config is a JSON object' }] };
  try {
    const stored = withoutBootKeys(doc as StoredDocument);
    // What cannot be written as JSON (nested too deep) could be neither snapshotted nor sent to a
    // worker: refused here (RangeError, below). A known-valid consumer list was written before.
    for (const v of Object.values(stored)) if (!isValidConsumerList(v)) JSON.stringify(v);
    const result = validateConfig({ ...stored, ...boot });
    if (!result.ok || !compile) return result;
    compilePlan(result.config, noConnect);
    return result;
  } catch (err) {
    // A plugin that cannot create its policy; or a document nested deeper than validation can
    // recurse (PostgreSQL stores thousands of levels): an invalid version, not a thrown error.
    const path = err instanceof PluginCreateError ? err.path : '(config)';
    return { ok: false, errors: [{ path, message: (err as Error).message }] };
  }
}

/** Whether a document can be compared at all (not nested deeper than the comparison recurses). */
export function comparable(doc: unknown): boolean {
  try {
    canonical(doc);
    return true;
  } catch {
    return false;
  }
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null)
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  // undefined (a missing array entry in a hand-made document) reads as JSON's null.
  return v === undefined ? 'null' : JSON.stringify(v);
}

export interface Change {
  path: string;
  op: 'add' | 'remove' | 'change';
  before?: unknown;
  after?: unknown;
}

/** What changed from `a` to `b`, leaf by leaf (a list that changed length is compared entry by entry). */
export function diffDocuments(a: unknown, b: unknown): Change[] {
  const out: Change[] = [];
  collectChanges(a, b, '', out, Infinity);
  return out;
}

/**
 * The first `limit` changes from `a` to `b` (in the order diffDocuments gives them), and whether
 * there are more: a diff of two versions with 100,000 changed consumers is not one answer.
 */
export function diffDocumentsLimited(a: unknown, b: unknown, limit: number): { changes: Change[]; truncated: boolean } {
  const out: Change[] = [];
  collectChanges(a, b, '', out, limit + 1);
  return out.length > limit ? { changes: out.slice(0, limit), truncated: true } : { changes: out, truncated: false };
}

/** Appends the changes to `out`, stopping once it holds `max`. */
function collectChanges(a: unknown, b: unknown, path: string, out: Change[], max: number): void {
  if (out.length >= max || canonical(a) === canonical(b)) return;
  const bothObjects = typeof a === 'object' && a !== null && typeof b === 'object' && b !== null;
  if (!bothObjects || Array.isArray(a) !== Array.isArray(b)) {
    out.push({ path: path || '(document)', op: 'change', before: a, after: b });
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length) && out.length < max; i++) {
      const p = `${path}[${i}]`;
      if (i >= a.length) out.push({ path: p, op: 'add', after: b[i] });
      else if (i >= b.length) out.push({ path: p, op: 'remove', before: a[i] });
      else collectChanges(a[i], b[i], p, out, max);
    }
    return;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
    if (out.length >= max) return;
    const p = path ? `${path}.${k}` : k;
    if (!(k in bo)) out.push({ path: p, op: 'remove', before: ao[k] });
    else if (!(k in ao)) out.push({ path: p, op: 'add', after: bo[k] });
    else collectChanges(ao[k], bo[k], p, out, max);
  }
}

/** A diff as lines: `+ path: value`, `- path: value`, `~ path: before → after`. */
export function formatDiff(changes: Change[]): string {
  const v = (x: unknown) => JSON.stringify(x);
  return changes
    .map((c) =>
      c.op === 'add'
        ? `+ ${c.path}: ${v(c.after)}`
        : c.op === 'remove'
          ? `- ${c.path}: ${v(c.before)}`
          : `~ ${c.path}: ${v(c.before)} → ${v(c.after)}`,
    )
    .join('\n');
}

export type { ConfigIssue };
