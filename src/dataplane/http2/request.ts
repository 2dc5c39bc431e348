// An HTTP/2 request made to read like the HTTP/1.1 request the rest of the core expects (called by
// request-target.ts when the scan saw pseudo-headers; HTTP/1.1 requests never come here):
//
// - The host is :authority. A Host field beside it must name the same host, or the request is
//   malformed (RFC 9113 §8.3.1 says a server SHOULD treat it so): refused with 400, so routing
//   and the upstream can never be told two different hosts. Without :authority, Host serves; a
//   request with neither is refused, as an HTTP/1.1 request without Host is.
// - The header list is measured as HPACK does (name + value + 32 per field) against the limit
//   our SETTINGS announce: node enforces it only once the client has acknowledged them.
// - Cookie crumbs (RFC 9113 §8.2.3: a client may split Cookie into several fields) are joined
//   with "; " for an HTTP/1.1 upstream, which must get one Cookie field.
// - A body without Content-Length (DATA frames until END_STREAM) is one of unknown length: the
//   scan says "chunked", so it streams, is counted against the route's body limit, and undici
//   sends it chunked.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { ServerLimits } from '../../edge/server-limits.js';
import type { ScannedHeaders } from '../forwarding.js';
import type { ErrorAnswer } from '../respond.js';

export function http2Request(req: IncomingMessage, scan: ScannedHeaders, limits: ServerLimits): ErrorAnswer | undefined {
  const authority = scan.authority;
  if (authority !== undefined) {
    if (scan.host !== undefined && scan.host.toLowerCase() !== authority.toLowerCase())
      return refusal('The Host header and :authority name different hosts.');
    scan.host = authority;
    if (scan.hostCount === 0) {
      scan.hostCount = 1;
      // Route header conditions and hashOn read req.headers: `host` is there, as over HTTP/1.1.
      req.headers.host = authority;
    }
  } else if (scan.hostCount === 0) return refusal('Missing :authority.');
  const raw = req.rawHeaders;
  let size = 0;
  for (let i = 0; i < raw.length; i += 2) size += raw[i]!.length + raw[i + 1]!.length + 32;
  if (size > limits.http2.maxHeaderListSize) return refusal('Request header fields too large.', 431);
  joinCookies(scan.forward);
  if (scan.contentLength === undefined && !(req as unknown as Http2ServerRequest).stream.endAfterHeaders) scan.transferEncoding = 'chunked';
  return undefined;
}

function refusal(message: string, status?: number): ErrorAnswer {
  return { kind: 'error', code: 'GW_BAD_REQUEST', message, status };
}

/** Several Cookie fields become one, in order, where the first one was. */
function joinCookies(fields: string[]): void {
  let first = -1;
  let w = 0;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (name.length === 6 && name.toLowerCase() === 'cookie') {
      if (first === -1) first = w;
      else {
        fields[first + 1] = `${fields[first + 1]!}; ${fields[i + 1]!}`;
        continue;
      }
    }
    fields[w++] = name;
    fields[w++] = fields[i + 1]!;
  }
  fields.length = w;
}
