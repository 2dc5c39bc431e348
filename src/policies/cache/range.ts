// A Range request answered from a complete stored 200 (RFC 9110 §14): one byte range → 206 with
// Content-Range; a range past the end → 416; several ranges, another unit, or an If-Range that
// does not match → the whole 200 (a server may always ignore Range). A Range request that misses
// goes to the service as it is, and its 206 is not stored.
import type { IncomingMessage } from 'node:http';
import { field, httpDate } from './freshness.js';

export type RangeAnswer = { status: 206; start: number; end: number } | { status: 416 } | undefined;

export function rangeOf(req: IncomingMessage, headers: readonly string[], length: number): RangeAnswer {
  const range = req.headers.range;
  const ifRange = req.headers['if-range'];
  if (range === undefined || !ifRangeHolds(typeof ifRange === 'string' ? ifRange : undefined, headers)) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (m === null) return undefined; // several ranges, or not bytes: the whole response
  const [, first, last] = m;
  if (first === '' && last === '') return undefined;
  let start: number;
  let end: number;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return { status: 416 };
    start = Math.max(0, length - suffix);
    end = length - 1;
  } else {
    start = Number(first);
    end = last === '' ? length - 1 : Math.min(Number(last), length - 1);
    if (last !== '' && Number(last) < start) return undefined; // invalid: ignored
  }
  if (start >= length || length === 0) return { status: 416 };
  return { status: 206, start, end };
}

/** If-Range: a strong ETag equal to the stored one, or a date equal to its Last-Modified. */
function ifRangeHolds(ifRange: string | undefined, headers: readonly string[]): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"')) return field(headers, 'etag') === v;
  if (v.startsWith('W/')) return false;
  const date = httpDate(v);
  const lastModified = httpDate(field(headers, 'last-modified'));
  return date !== undefined && lastModified !== undefined && date === lastModified;
}
