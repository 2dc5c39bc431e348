// Request framing by Transfer-Encoding (RFC 9112 §6). Node's parser already refuses a list that
// does not end in `chunked` when it sees it in the header block, and a few spellings only after
// the request event (so the check below answers those first, the same 400). What it lets
// through is a list ending in `chunked` with other codings before it (`gzip, chunked`), which it
// frames as chunked, and any Transfer-Encoding in an HTTP/1.0 request, which it frames as chunked
// and keeps alive. Called only when the request has the header: it costs nothing otherwise.
import type { ErrorCode } from '../errors.js';

export interface FramingFault {
  code: ErrorCode;
  message: string;
}

const HTTP10: FramingFault = { code: 'GW_BAD_REQUEST', message: 'Transfer-Encoding in an HTTP/1.0 request: the framing is faulty.' };
const NOT_FINAL: FramingFault = { code: 'GW_BAD_REQUEST', message: 'Transfer-Encoding must end in chunked.' };
const UNSUPPORTED: FramingFault = { code: 'GW_UNSUPPORTED_TRANSFER_ENCODING', message: 'The only supported Transfer-Encoding is chunked.' };

/**
 * What is wrong with a request's framing, or undefined when it is fine. `value` is every
 * Transfer-Encoding field line of the request joined with ", ".
 */
export function transferEncodingFault(value: string, httpVersion: string): FramingFault | undefined {
  // §6.1: an HTTP/1.0 recipient cannot trust the framing; answering once and closing is the
  // only safe reading (a body it framed wrongly would be read as the next request).
  if (httpVersion === '1.0') return HTTP10;
  if (value.length === 7 && value.toLowerCase() === 'chunked') return undefined;
  // §6.3: chunked must be the final coding, and only once; otherwise the length is unknowable.
  const codings = value
    .toLowerCase()
    .split(',')
    .map((c) => c.trim());
  if (codings.indexOf('chunked') !== codings.length - 1) return NOT_FINAL;
  // §6.1: a transfer coding the gateway does not implement (gzip, identity, …): 501.
  return UNSUPPORTED;
}
