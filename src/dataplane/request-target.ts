// The first step of every request: is it well-formed enough to route, and what is its target?
// Everything refused here is malformed input: answered, and the connection closed, so nothing
// pipelined behind it is served.
import type { IncomingMessage } from 'node:http';
import type { ServerLimits } from '../edge/server-limits.js';
import { isValidHostHeader } from '../edge/host-syntax.js';
import { transferEncodingFault } from '../edge/transfer-encoding.js';
import { canonicalizePath } from './canonical-path.js';
import type { ScannedHeaders } from './forwarding.js';
import type { ErrorAnswer } from './respond.js';
import { http2Request } from './http2/request.js';

export interface RequestTarget {
  /** The canonical path. */
  path: string;
  /** The raw query string without "?". */
  query: string;
}

export function requestTarget(req: IncomingMessage, scan: ScannedHeaders, limits: ServerLimits): RequestTarget | ErrorAnswer {
  if (scan.pseudo > 0) {
    // HTTP/2: the host from :authority, the header list's size, cookie crumbs, a body's length.
    const fault = http2Request(req, scan, limits);
    if (fault !== undefined) return fault;
  }
  const framing = scan.transferEncoding === undefined ? undefined : transferEncodingFault(scan.transferEncoding, req.httpVersion);
  if (framing !== undefined) return refusal(framing.message, framing.code);
  if (scan.hostCount > 1) return refusal('Duplicate Host header.');
  // HTTP/1.1 requires Host (RFC 9112 §3.2); refused here so nothing pipelined behind it runs.
  if (scan.hostCount === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) return refusal('Missing Host header.');
  if (scan.host !== undefined && !isValidHostHeader(scan.host)) return refusal('The Host header is not a valid host.');
  // Node keeps at most maxHeaderCount + 1 fields (server-limits.ts): more means over the limit.
  // HTTP/2's pseudo-headers are not fields.
  if (req.rawHeaders.length - scan.pseudo * 2 > limits.maxHeaderCount * 2) return refusal('Too many header fields.', 'GW_BAD_REQUEST', 431);
  let url = req.url ?? '';
  if (url.length > limits.maxUrlLength) return refusal('The request target is too long.', 'GW_BAD_REQUEST', 414);
  if (url.charCodeAt(0) !== 47 /* / */) {
    const origin = absoluteFormOrigin(url, scan.host);
    if (origin === undefined) return refusal('The request target is not acceptable.');
    url = url.slice(origin.length) || '/';
  }
  const q = url.indexOf('?');
  const path = canonicalizePath(q === -1 ? url : url.slice(0, q), limits.allowSemicolonInPath);
  if (path === undefined) return { kind: 'error', code: 'GW_BAD_PATH', close: true };
  return { path, query: q === -1 ? '' : url.slice(q + 1) };
}

function refusal(message: string | undefined, code: ErrorAnswer['code'] = 'GW_BAD_REQUEST', status?: number): ErrorAnswer {
  return { kind: 'error', code, message, status, close: true };
}

/**
 * For an absolute-form target ("http://host/path"), the "scheme://authority" part — accepted only
 * when the authority is the Host header, so a request target can never name another host.
 */
function absoluteFormOrigin(url: string, host: string | undefined): string | undefined {
  const m = /^https?:\/\/([^/?#]*)/i.exec(url);
  if (!m || host === undefined || m[1]!.toLowerCase() !== host.toLowerCase()) return undefined;
  return m[0];
}
