// The Redis cache store's value: every variant of one cache key in one binary string.
//
//   "GHC" 0x01 | u32 (big endian) n | n bytes of JSON metadata | the variants' bodies, concatenated
//
// The metadata is an array with one array per variant:
//   [status, headers, trailers | null, requestTime, responseTime, vary, varyValues, tags, expiresAt, bodyLength]
// Bodies stay raw bytes (no base64), in the order of the metadata. A value is whatever Redis hands
// back — another version, another program's key under our prefix, a truncated write — so decode
// checks every field and every length and answers undefined for anything it does not recognise.
import type { CacheEntry, StoredResponse } from './types.js';

const MAGIC = Buffer.from([0x47, 0x48, 0x43, 0x01]); // "GHC" and the format's version
const HEAD = MAGIC.length + 4;

/** Bounds of a decoded value (beyond them it is not ours, or not sane). */
export const MAX_META_BYTES = 8 * 1024 * 1024;
export const MAX_DECODED_VARIANTS = 1024;
const MAX_FIELDS = 2 * 10_000;

/** A variant with the time (ms since the epoch) after which no get returns it. */
export interface StoredVariant {
  entry: CacheEntry;
  expiresAt: number;
}

export function encodeVariants(variants: readonly StoredVariant[]): Buffer {
  const meta: unknown[] = [];
  const bodies: Buffer[] = [];
  for (const { entry: e, expiresAt } of variants) {
    const r = e.response;
    meta.push([
      r.status,
      r.headers,
      r.trailers ?? null,
      e.requestTime,
      e.responseTime,
      e.vary,
      e.varyValues,
      e.tags,
      expiresAt,
      r.body.length,
    ]);
    bodies.push(r.body);
  }
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const head = Buffer.alloc(HEAD);
  MAGIC.copy(head, 0);
  head.writeUInt32BE(json.length, MAGIC.length);
  return Buffer.concat([head, json, ...bodies]);
}

/** The variants in `buf`, or undefined when it is not a value this codec wrote. */
export function decodeVariants(buf: Buffer): StoredVariant[] | undefined {
  if (buf.length < HEAD || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const metaLen = buf.readUInt32BE(MAGIC.length);
  if (metaLen > MAX_META_BYTES || HEAD + metaLen > buf.length) return undefined;
  let meta: unknown;
  try {
    meta = JSON.parse(buf.toString('utf8', HEAD, HEAD + metaLen));
  } catch {
    return undefined;
  }
  if (!Array.isArray(meta) || meta.length > MAX_DECODED_VARIANTS) return undefined;
  const out: StoredVariant[] = [];
  let at = HEAD + metaLen;
  for (const m of meta) {
    const v = variantOf(m);
    if (v === undefined || v.bodyLength > buf.length - at) return undefined;
    // Its own copy: a view would keep the whole value alive as long as any one body is.
    v.response.body = Buffer.from(buf.subarray(at, at + v.bodyLength));
    at += v.bodyLength;
    out.push({ entry: v.entry, expiresAt: v.expiresAt });
  }
  return at === buf.length ? out : undefined;
}

function variantOf(m: unknown): { entry: CacheEntry; response: StoredResponse; expiresAt: number; bodyLength: number } | undefined {
  if (!Array.isArray(m) || m.length !== 10) return undefined;
  const [status, headers, trailers, requestTime, responseTime, vary, varyValues, tags, expiresAt, bodyLength] = m as unknown[];
  if (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 999) return undefined;
  if (!isFields(headers) || (trailers !== null && !isFields(trailers))) return undefined;
  if (!isTime(requestTime) || !isTime(responseTime) || !isTime(expiresAt)) return undefined;
  if (!isStrings(vary) || !Array.isArray(varyValues) || varyValues.length !== vary.length) return undefined;
  if (!varyValues.every((v) => v === null || typeof v === 'string')) return undefined;
  if (!isStrings(tags) || !Number.isSafeInteger(bodyLength) || (bodyLength as number) < 0) return undefined;
  const response: StoredResponse = { status: status as number, headers, body: Buffer.alloc(0) };
  if (trailers !== null) response.trailers = trailers;
  const entry: CacheEntry = {
    response,
    requestTime,
    responseTime,
    vary,
    varyValues: varyValues as (string | null)[],
    tags,
  };
  return { entry, response, expiresAt, bodyLength: bodyLength as number };
}

function isStrings(x: unknown): x is string[] {
  return Array.isArray(x) && x.length <= MAX_FIELDS && x.every((s) => typeof s === 'string');
}

function isFields(x: unknown): x is string[] {
  return isStrings(x) && x.length % 2 === 0;
}

function isTime(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}
