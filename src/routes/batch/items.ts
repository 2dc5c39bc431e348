// A batch's requests: read from the client's JSON and checked strictly (a malformed request fails
// the whole batch before any runs), made into requests to this gateway (the batch's own header
// fields inherited, so a client authenticates once), and their answers made into list entries.
import { isJsonType } from '../../policies/transform/json-text.js';
import { CONNECTION_FIELDS } from '../fields.js';
import type { IncomingMessage } from 'node:http';
import { ERRORS, type ErrorCode } from '../../errors.js';
import type { HeaderList } from '../../policies/types.js';
import type { InternalRequest, InternalResponse } from '../types.js';

/** One request of a batch, as checked. */
export interface BatchItem {
  method: string;
  /** The absolute path with its query ("/users/1?x=1"). */
  path: string;
  /** The item's own fields, lower-case names, in its order. */
  headers: [string, string][];
  /** The body to send, and the Content-Type it goes with unless the item names one. */
  body: Buffer | null;
  contentType: string | undefined;
}

export interface ItemIssue {
  /** The request's place in the list (absent for the batch as a whole). */
  index?: number;
  field?: string;
  message: string;
}

export type ParsedBatch = { ok: true; items: BatchItem[] } | { ok: false; code: ErrorCode; message: string; details: unknown };

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const ITEM_KEYS = new Set(['method', 'path', 'headers', 'body', 'encoding']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII only (a client percent-encodes the rest), no fragment. */
const PATH = /^\/[\x21-\x22\x24-\x7e]*$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MAX_PATH = 8192;
const MAX_ITEM_HEADERS = 100;
/** Problems listed in one answer: enough to fix a batch, never a huge error body. */
const MAX_ISSUES = 20;

/** The forwarding fields: the batch's own, as its client's proxies wrote them. */
const FORWARDING_FIELDS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
];

/**
 * Fields a request of the batch may not set: the framing, the Host (the batch's own), and the
 * forwarding fields — an item's own would let a client behind a trusted proxy choose its address.
 */
const ITEM_FORBIDDEN = new Set([...CONNECTION_FIELDS, 'host', ...FORWARDING_FIELDS]);

/**
 * Fields of the batch request its items do not inherit: about the batch's own connection or body
 * (its length, type, encoding, digests), its own preconditions and ranges, and its request id
 * (each item gets one derived from it). Accept-Encoding too: entries carry bodies decoded. The
 * Host is put first on its own (inheritedHeaders).
 */
const NOT_INHERITED = new Set([
  ...CONNECTION_FIELDS,
  'host',
  'content-type',
  'content-encoding',
  'content-md5',
  'content-digest',
  'digest',
  'repr-digest',
  'accept-encoding',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  'range',
  'x-request-id',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/** Reads a batch body: a JSON list of requests, or `{ "requests": [...] }`. */
export function parseBatch(body: Buffer | null, maxRequests: number): ParsedBatch {
  const invalid = (message: string, details?: ItemIssue[]): ParsedBatch => ({
    ok: false,
    code: 'GW_BATCH_INVALID',
    message,
    details: details ?? [{ message }],
  });
  if (body === null || body.length === 0) return invalid('The batch body is empty: send a JSON list of requests.');
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return invalid('The batch body is not valid JSON.');
  }
  if (isObject(json)) {
    const keys = Object.keys(json);
    if (keys.length !== 1 || keys[0] !== 'requests')
      return invalid('A batch is a JSON list of requests, or an object with only "requests".');
    json = json.requests;
  }
  if (!Array.isArray(json)) return invalid('A batch is a JSON list of requests.');
  if (json.length === 0) return invalid('The batch has no requests.');
  if (json.length > maxRequests)
    return {
      ok: false,
      code: 'GW_BATCH_TOO_MANY',
      message: `The batch has ${json.length} requests; this route allows at most ${maxRequests}.`,
      details: { maxRequests, count: json.length },
    };
  const issues: ItemIssue[] = [];
  const items: BatchItem[] = [];
  for (let i = 0; i < json.length && issues.length < MAX_ISSUES; i++) {
    const item = parseItem(json[i], i, issues);
    if (item !== undefined) items.push(item);
  }
  if (issues.length > 0)
    return invalid(`${issues.length === 1 ? 'A request' : 'Requests'} of the batch are malformed; none was run.`, issues);
  return { ok: true, items };
}

function parseItem(raw: unknown, index: number, issues: ItemIssue[]): BatchItem | undefined {
  const before = issues.length;
  const issue = (field: string | undefined, message: string) =>
    void issues.push(field === undefined ? { index, message } : { index, field, message });
  if (!isObject(raw)) {
    issue(undefined, 'A request is an object: { "method", "path", "headers", "body" }.');
    return undefined;
  }
  for (const k of Object.keys(raw)) if (!ITEM_KEYS.has(k)) issue(k, 'Unknown field (expected method, path, headers, body, encoding).');

  let method = 'GET';
  if (raw.method !== undefined) {
    const m = typeof raw.method === 'string' ? raw.method.toUpperCase() : '';
    if (METHODS.has(m)) method = m;
    else issue('method', 'One of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS.');
  }

  const path = raw.path;
  if (typeof path !== 'string') issue('path', 'Required: an absolute path such as "/users/1?x=1".');
  else if (path.length > MAX_PATH) issue('path', `Longer than ${MAX_PATH} characters.`);
  else if (!PATH.test(path) || path.startsWith('//'))
    issue('path', 'An absolute path of this gateway ("/users/1?x=1"): no scheme or host, no spaces, no "#", non-ASCII percent-encoded.');

  const headers: [string, string][] = [];
  if (raw.headers !== undefined) {
    if (!isObject(raw.headers)) issue('headers', 'An object of header names and string values.');
    else {
      const entries = Object.entries(raw.headers);
      if (entries.length > MAX_ITEM_HEADERS) issue('headers', `More than ${MAX_ITEM_HEADERS} fields.`);
      for (const [name, value] of entries) {
        const lower = name.toLowerCase();
        if (!TOKEN.test(name)) issue(`headers.${name}`, 'Not a valid header name.');
        else if (ITEM_FORBIDDEN.has(lower)) issue(`headers.${name}`, 'Set by the gateway; a request of a batch cannot set it.');
        else if (typeof value !== 'string' || !FIELD_VALUE.test(value)) issue(`headers.${name}`, 'A string without control characters.');
        else headers.push([lower, value]);
      }
    }
  }

  let body: Buffer | null = null;
  let contentType: string | undefined;
  if (raw.encoding !== undefined && (raw.encoding !== 'base64' || typeof raw.body !== 'string'))
    issue('encoding', 'Only "base64", with a string body.');
  else if (raw.body !== undefined && raw.body !== null) {
    if (method === 'GET' || method === 'HEAD') issue('body', `A ${method} request has no body.`);
    else if (raw.encoding === 'base64') {
      const b64 = raw.body as string;
      if (!BASE64.test(b64) || b64.length % 4 !== 0) issue('body', 'Not valid base64.');
      body = Buffer.from(b64, 'base64');
      contentType = 'application/octet-stream';
    } else if (typeof raw.body === 'string') {
      body = Buffer.from(raw.body, 'utf8');
      contentType = 'text/plain; charset=utf-8';
    } else {
      const json = stringify(raw.body);
      if (json === undefined) issue('body', 'Nested too deeply to be sent as JSON.');
      else body = Buffer.from(json, 'utf8');
      contentType = 'application/json';
    }
  }
  if (issues.length > before) return undefined;
  return { method, path: path as string, headers, body, contentType };
}

/** The batch request's fields its items inherit (names lower-case), Host first. */
export function inheritedHeaders(req: IncomingMessage): HeaderList {
  const raw = req.rawHeaders;
  // Fields the batch's Connection field names are hop-by-hop too.
  const named = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2)
    if (raw[i]!.toLowerCase() === 'connection') for (const n of raw[i + 1]!.split(',')) named.add(n.trim().toLowerCase());
  const host = req.headers.host ?? (req.headers as Record<string, string | undefined>)[':authority'];
  const out: HeaderList = host === undefined ? [] : ['host', host];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name.startsWith(':') || NOT_INHERITED.has(name) || named.has(name)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** The request an item sends: the inherited fields, the item's own in their place, its body's type. */
export function itemRequest(item: BatchItem, inherited: HeaderList, requestId: string): InternalRequest {
  const own = new Set(item.headers.map(([n]) => n));
  const headers: HeaderList = [];
  for (let i = 0; i + 1 < inherited.length; i += 2) if (!own.has(inherited[i]!)) headers.push(inherited[i]!, inherited[i + 1]!);
  if (!own.has('x-request-id')) headers.push('x-request-id', requestId);
  if (item.contentType !== undefined && !own.has('content-type')) headers.push('content-type', item.contentType);
  for (const [n, v] of item.headers) headers.push(n, v);
  return { method: item.method, target: item.path, headers, body: item.body };
}

/** One entry of the answer's list, as the client reads it. */
export interface BatchEntry {
  status: number;
  headers: Record<string, string | string[]>;
  body: unknown;
  /** Set when `body` is the response's bytes in base64 (not JSON, not text). */
  encoding?: 'base64';
}

/** Not part of an entry's fields: about the internal connection, or the body as it was framed. */
const ENTRY_DROPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A response as an entry's JSON text: JSON bodies as they came, text as a string, anything else in
 * base64. Each entry is serialized as soon as its response is read, so a batch holds text, never
 * parsed documents (a parsed JSON body can take many times its size), and one entry's body can
 * never make the whole answer fail to serialize.
 */
export function responseEntry(res: InternalResponse): string {
  const headers: Record<string, string | string[]> = {};
  let contentType = '';
  let encoded = false;
  for (let i = 0; i + 1 < res.headers.length; i += 2) {
    const name = res.headers[i]!.toLowerCase();
    const value = res.headers[i + 1]!;
    if (ENTRY_DROPPED.has(name)) continue;
    if (name === 'content-type') contentType = value.toLowerCase();
    if (name === 'content-encoding' && value.toLowerCase() !== 'identity') encoded = true;
    const prev = headers[name];
    // Set-Cookie fields cannot be joined (RFC 9110 §5.3): always a list; others joined with ", ".
    if (name === 'set-cookie') headers[name] = Array.isArray(prev) ? [...prev, value] : [value];
    else headers[name] = prev === undefined ? value : `${prev as string}, ${value}`;
  }
  const head = `{"status":${res.status},"headers":${JSON.stringify(headers)},"body":`;
  if (res.body.length === 0) return `${head}null}`;
  const text = encoded ? undefined : decodeText(res.body, contentType);
  if (text !== undefined) {
    // Valid JSON goes in as sent: never parsed and serialized again, which would lose digits of
    // large numbers and throw (the call stack) on a deeply nested document.
    if (isJsonType(contentType) && isJson(text)) return `${head}${text}}`;
    const quoted = JSON.stringify(text);
    // Escaping can make text up to six times longer (\u0001): base64 when that is the smaller.
    if (res.body.length + quoted.length - text.length <= base64Length(res.body.length)) return `${head}${quoted}}`;
  }
  return `${head}"${res.body.toString('base64')}","encoding":"base64"}`;
}

/** The gateway's own answer for an item that has no response (its error body, as a client would get it). */
export function errorEntry(code: ErrorCode, message?: string): string {
  const entry: BatchEntry = {
    status: ERRORS[code].status,
    headers: { 'content-type': 'application/json' },
    body: { error: { code, message: message ?? ERRORS[code].message } },
  };
  return JSON.stringify(entry);
}

/** The answer: the entries' JSON texts as one JSON list (a Buffer: no one string holds it all). */
export function answerBody(entries: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from('[')];
  entries.forEach((e, i) => parts.push(Buffer.from(i === 0 ? e : `,${e}`)));
  parts.push(Buffer.from(']'));
  return Buffer.concat(parts);
}

function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text); // iterative in V8: no nesting is too deep for it
    return true;
  } catch {
    return false;
  }
}

function decodeText(body: Buffer, contentType: string): string | undefined {
  const textual =
    contentType === '' ||
    contentType.startsWith('text/') ||
    isJsonType(contentType) ||
    /^application\/(xml|javascript|x-www-form-urlencoded|x-ndjson|problem\+xml)\b/.test(contentType) ||
    /\+xml\b/.test(contentType);
  if (!textual) return undefined;
  try {
    return utf8.decode(body);
  } catch {
    return undefined;
  }
}

/** JSON.stringify recurses: a body nested deeply enough (JSON.parse is iterative) overflows the stack. */
function stringify(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
