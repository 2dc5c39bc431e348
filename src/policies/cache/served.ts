// A stored response as the answer to a request (RFC 9111 §4): 304 when the client already has it
// (its conditional request), a 206 or 416 for a Range it asks of a stored 200, else the whole
// response with its Age.
import type { IncomingMessage } from 'node:http';
import type { ServeVerdict } from '../types.js';
import type { CacheEntry } from '../../store/cache/types.js';
import { notModified, notModifiedHeaders } from './conditional.js';
import { field } from './freshness.js';
import { rangeOf } from './range.js';

export function servedFrom(req: IncomingMessage, entry: CacheEntry, ageMs: number): ServeVerdict {
  const r = entry.response;
  const age = String(Math.floor(ageMs / 1000));
  if (notModified(req, r.headers))
    return { serve: { status: 304, headers: [...notModifiedHeaders(r.headers), 'age', age], body: Buffer.alloc(0) } };
  const headers: string[] = [];
  for (let i = 0; i < r.headers.length; i += 2) if (r.headers[i]!.toLowerCase() !== 'age') headers.push(r.headers[i]!, r.headers[i + 1]!);
  headers.push('age', age);
  const range = r.status === 200 ? rangeOf(req, r.headers, r.body.length) : undefined;
  if (range?.status === 206) {
    headers.push('content-range', `bytes ${range.start}-${range.end}/${r.body.length}`);
    return { serve: { status: 206, headers, body: r.body.subarray(range.start, range.end + 1) } };
  }
  if (range?.status === 416)
    return { serve: { status: 416, headers: ['content-range', `bytes */${r.body.length}`, 'age', age], body: Buffer.alloc(0) } };
  if (r.status === 200 && field(r.headers, 'accept-ranges') === undefined) headers.push('accept-ranges', 'bytes');
  return { serve: { status: r.status, headers, body: r.body, trailers: r.trailers } };
}
