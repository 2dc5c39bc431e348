// A persisted operations manifest: the operations an allow list runs (or an APQ cache knows from the
// start), read from a file when the config is compiled. Two formats:
//   Apollo's: { "format": "apollo-persisted-query-manifest", "version": 1,
//               "operations": [{ "id", "name", "type", "body" }] }
//   a plain map: { "<sha256 of the document>": "<document>", ... }
// The file is untrusted text: its size, its number of operations and each document are bounded,
// every id must be the SHA-256 of its body (an id that names another document would let a client
// run what the file's author did not register), and a refusal names the place, never the content.
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { MAX_NAME_CHARS, MAX_OPERATION_CHARS, SHA256_HEX, sha256Hex } from './persisted-schema.js';

/** One registered operation: its id is the SHA-256 of `body`. */
export interface PersistedOperation {
  id: string;
  name?: string | undefined;
  body: string;
}

/** The largest manifest file read. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
/** The most operations one manifest registers. */
export const MAX_MANIFEST_OPERATIONS = 100_000;

const APOLLO_FORMAT = 'apollo-persisted-query-manifest';
const OPERATION_TYPES = new Set(['query', 'mutation', 'subscription']);
const OPERATION_KEYS = new Set(['id', 'name', 'type', 'body']);

export type ManifestResult = { ok: true; operations: PersistedOperation[] } | { ok: false; reason: string };

/** Reads and checks the manifest at `path` (relative to the working directory). Never throws. */
export function readManifest(path: string): ManifestResult {
  const full = resolve(path);
  let text: string;
  try {
    const s = statSync(full);
    // A FIFO or a device would block the whole process (or never end).
    if (!s.isFile()) return { ok: false, reason: `${path} is not a regular file` };
    if (s.size > MAX_MANIFEST_BYTES) return { ok: false, reason: `${path} is larger than 64 MiB (${s.size} bytes)` };
    text = readFileSync(full, 'utf8');
  } catch (err) {
    return { ok: false, reason: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  const parsed = parseManifest(text);
  return parsed.ok ? parsed : { ok: false, reason: `${path}: ${parsed.reason}` };
}

/** The operations of a manifest's text (either format). */
export function parseManifest(text: string): ManifestResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON (${(err as Error).message.slice(0, 200)})` };
  }
  if (!isRecord(doc))
    return { ok: false, reason: 'not a JSON object (an Apollo persisted query manifest, or an object of sha256 → document)' };
  if (Object.hasOwn(doc, 'format') || Object.hasOwn(doc, 'operations')) return apolloManifest(doc);
  return plainMap(doc);
}

function apolloManifest(doc: Record<string, unknown>): ManifestResult {
  if (doc.format !== APOLLO_FORMAT) return { ok: false, reason: `format is not "${APOLLO_FORMAT}"` };
  if (doc.version !== 1) return { ok: false, reason: 'version is not 1 (the only version of the Apollo manifest format known)' };
  const extra = Object.keys(doc).filter((k) => k !== 'format' && k !== 'version' && k !== 'operations');
  if (extra.length > 0) return { ok: false, reason: `unknown field ${show(extra[0]!)} at the top level` };
  const ops = doc.operations;
  if (!Array.isArray(ops)) return { ok: false, reason: 'operations is not a list' };
  if (ops.length > MAX_MANIFEST_OPERATIONS) return { ok: false, reason: `more than ${MAX_MANIFEST_OPERATIONS} operations` };
  const out: PersistedOperation[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < ops.length; i++) {
    const at = `operations[${i}]`;
    const op: unknown = ops[i];
    if (!isRecord(op)) return { ok: false, reason: `${at} is not an object` };
    const unknownKey = Object.keys(op).find((k) => !OPERATION_KEYS.has(k));
    if (unknownKey !== undefined) return { ok: false, reason: `${at} has an unknown field ${show(unknownKey)}` };
    const { id, name, type, body } = op;
    const bodyProblem = documentProblem(body);
    if (bodyProblem) return { ok: false, reason: `${at}.body ${bodyProblem}` };
    if (typeof id !== 'string' || !SHA256_HEX.test(id))
      return { ok: false, reason: `${at}.id is not a SHA-256 (64 lower-case hex digits)` };
    if (id !== sha256Hex(body as string)) return { ok: false, reason: `${at}.id is not the SHA-256 of its body` };
    if (name !== undefined && (typeof name !== 'string' || name.length > MAX_NAME_CHARS))
      return { ok: false, reason: `${at}.name is not a string of at most ${MAX_NAME_CHARS} characters` };
    if (type !== undefined && (typeof type !== 'string' || !OPERATION_TYPES.has(type)))
      return { ok: false, reason: `${at}.type is not query, mutation or subscription` };
    // The same document twice is harmless (a manifest merged from two builds): kept once.
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, ...(name !== undefined && name !== '' ? { name } : {}), body: body as string });
  }
  return { ok: true, operations: out };
}

function plainMap(doc: Record<string, unknown>): ManifestResult {
  const entries = Object.entries(doc);
  if (entries.length > MAX_MANIFEST_OPERATIONS) return { ok: false, reason: `more than ${MAX_MANIFEST_OPERATIONS} operations` };
  const out: PersistedOperation[] = [];
  for (const [id, body] of entries) {
    if (!SHA256_HEX.test(id))
      return { ok: false, reason: `the key ${show(id)} is not a SHA-256 (64 lower-case hex digits); an Apollo manifest has "format"` };
    const bodyProblem = documentProblem(body);
    if (bodyProblem) return { ok: false, reason: `the document of ${id} ${bodyProblem}` };
    if (id !== sha256Hex(body as string)) return { ok: false, reason: `the key ${id} is not the SHA-256 of its document` };
    out.push({ id, body: body as string });
  }
  return { ok: true, operations: out };
}

function documentProblem(body: unknown): string | undefined {
  if (typeof body !== 'string') return 'is not a string';
  if (body.length === 0) return 'is empty';
  if (body.length > MAX_OPERATION_CHARS) return `is longer than ${MAX_OPERATION_CHARS} characters`;
  return undefined;
}

/** A key from the file, quoted and cut short: it is the file's text, not ours. */
function show(key: string): string {
  return JSON.stringify(key.length > 70 ? `${key.slice(0, 70)}…` : key);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
