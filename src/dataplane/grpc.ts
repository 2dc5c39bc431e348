// gRPC at the gateway, without knowing any service's protos (docs/grpc.md):
//
// - A request is a gRPC call when it is a POST and its content-type is `application/grpc` or
//   `application/grpc+…` (`application/grpc-web` is another protocol and is not one).
// - The gateway's own refusals of a gRPC call are answered as gRPC does: HTTP 200, a trailers-only
//   response (grpc-status and grpc-message in the one header block, END_STREAM on it, no body),
//   the status mapped from the error code or the HTTP status — a gRPC client cannot read a JSON
//   error. respond.ts sends every answer through here when the request is a gRPC call.
// - `grpc-timeout` (the call's deadline) is read here; grpc-deadline.ts enforces it.
import { GRPC_CONTENT_TYPE, GRPC_WEB_CONTENT_TYPE } from '../config/grpc-match.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { RespondVerdict } from '../policies/types.js';

/** gRPC status codes (grpc/doc/statuscodes.md) the gateway answers with. */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Whether a content-type names gRPC (`application/grpc`, `application/grpc+proto`, `…; charset`). */
export function isGrpcContentType(contentType: string | undefined): boolean {
  // The one definition routing (match.grpc) and retries use too.
  return contentType !== undefined && GRPC_CONTENT_TYPE.test(contentType);
}

/**
 * Whether a request is a gRPC call: a POST (every gRPC call is one) with a gRPC content-type. Only
 * a POST: a refused GET answered in gRPC form (HTTP 200, empty body) would read as a success to a
 * cache in front of the gateway, which could store it for the URL. Read from the raw list: over
 * HTTP/1.1 `req.headers` is built on first use, and every refusal asks this.
 */
export function isGrpcRequest(req: IncomingMessage | undefined): boolean {
  const type = requestContentType(req);
  return type !== undefined && isGrpcContentType(type);
}

/**
 * The content-type of the gateway's refusal when the request is a gRPC or gRPC-Web call (a POST,
 * as above): the refusal is then a trailers-only answer in that protocol (a gRPC-Web client reads
 * the status from the head of a response without body). undefined for any other request.
 */
export function grpcAnswerType(req: IncomingMessage | undefined): string | undefined {
  const type = requestContentType(req);
  if (type === undefined) return undefined;
  if (isGrpcContentType(type)) return 'application/grpc';
  const web = GRPC_WEB_CONTENT_TYPE.exec(type);
  return web === null ? undefined : web[1] !== undefined ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto';
}

/** A POST's content-type, from the raw list: over HTTP/1.1 `req.headers` is built on first use, and every refusal asks this. */
function requestContentType(req: IncomingMessage | undefined): string | undefined {
  if (req === undefined || req.method !== 'POST') return undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 12 && name.toLowerCase() === 'content-type') return raw[i + 1];
  }
  return undefined;
}

/**
 * The gRPC status for one of the gateway's refusals: by its error code where the HTTP status alone
 * would mislead (a malformed request is a protocol error, INTERNAL; a rate limit is
 * RESOURCE_EXHAUSTED, not UNAVAILABLE as the generic HTTP mapping has it), else by the HTTP status.
 */
export function grpcStatusFor(code: ErrorCode | undefined, httpStatus: number): number {
  switch (code) {
    case 'GW_BAD_REQUEST':
    case 'GW_BAD_PATH':
    case 'GW_UNSUPPORTED_TRANSFER_ENCODING':
    case 'GW_GRPC_BAD_TIMEOUT':
      return httpStatus === 408
        ? GRPC_STATUS.DEADLINE_EXCEEDED
        : httpStatus === 431
          ? GRPC_STATUS.RESOURCE_EXHAUSTED
          : GRPC_STATUS.INTERNAL;
    case 'GW_RATE_LIMIT_STORE_UNAVAILABLE':
      return GRPC_STATUS.UNAVAILABLE;
  }
  switch (httpStatus) {
    case 400:
      return GRPC_STATUS.INVALID_ARGUMENT; // the body or the operation is not acceptable
    case 401:
      return GRPC_STATUS.UNAUTHENTICATED;
    case 403:
      return GRPC_STATUS.PERMISSION_DENIED;
    case 404:
    case 405:
    case 501:
      return GRPC_STATUS.UNIMPLEMENTED;
    case 408:
    case 504:
      return GRPC_STATUS.DEADLINE_EXCEEDED;
    case 412:
      return GRPC_STATUS.FAILED_PRECONDITION;
    case 413:
    case 429:
    case 431:
      return GRPC_STATUS.RESOURCE_EXHAUSTED;
    case 500:
      return GRPC_STATUS.INTERNAL;
    case 502:
    case 503:
      return GRPC_STATUS.UNAVAILABLE;
    default:
      return httpStatus >= 400 && httpStatus < 500 ? GRPC_STATUS.INVALID_ARGUMENT : GRPC_STATUS.UNKNOWN;
  }
}

/**
 * grpc-message as the gRPC spec says (PROTOCOL-HTTP2.md): the UTF-8 bytes, each outside
 * 0x20–0x7E and `%` itself as `%XX`.
 */
export function encodeGrpcMessage(message: string): string {
  const bytes = Buffer.from(message, 'utf8');
  let out = '';
  for (const b of bytes)
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  return out;
}

/** Fields of a refusal's headers that do not belong in a trailers-only gRPC response. */
const DROPPED = new Set(['content-type', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade']);

/** What a refusal of a gRPC call says: its gRPC status, its message, and the headers that go with it. */
export interface GrpcRefusal {
  code: ErrorCode | undefined;
  status: number;
  message: string | undefined;
  headers: Record<string, string> | undefined;
}

/** A policy's verdict as a gRPC refusal: its code when it has one, else its HTTP status. */
export function verdictRefusal(v: RespondVerdict): GrpcRefusal {
  return { code: v.code, status: v.status, message: v.message, headers: v.headers };
}

/**
 * Whether a verdict is sent as it is to a gRPC client: a success or redirect (not a refusal), or
 * a policy's own gRPC response (its content-type says so).
 */
export function verdictPassesAsIs(v: RespondVerdict): boolean {
  if (v.status < 400) return true;
  const headers = v.headers;
  if (headers === undefined) return false;
  for (const name in headers) {
    if (name.toLowerCase() === 'content-type') return isGrpcContentType(headers[name]) || GRPC_WEB_CONTENT_TYPE.test(headers[name]!);
  }
  return false;
}

/**
 * Sends a refusal as a trailers-only gRPC response. Over HTTP/2 its one HEADERS frame carries
 * END_STREAM (node's compatibility API would send the head, then an empty DATA frame to end the
 * stream, which a strict client reads as a response without trailers); over HTTP/1.1 (a gRPC
 * content-type that was not sent over HTTP/2) it is a 200 with an empty body.
 */
export function sendGrpcRefusal(res: ServerResponse, r: GrpcRefusal, requestId: string, contentType = 'application/grpc'): number {
  const code = r.code;
  const message = r.message ?? (code !== undefined ? ERRORS[code].message : `HTTP status ${r.status}`);
  const headers: Record<string, string> = {};
  if (r.headers !== undefined) {
    for (const name in r.headers) {
      const lower = name.toLowerCase();
      if (!DROPPED.has(lower)) headers[lower] = r.headers[name]!;
    }
  }
  const server = res.getHeader('server');
  if (typeof server === 'string') headers.server = server;
  headers['content-type'] = contentType;
  const status = grpcStatusFor(code, r.status);
  // A browser's gRPC-Web client reads the status from these fields: a cross-origin answer exposes them.
  if (headers['access-control-allow-origin'] !== undefined) {
    const exposed = headers['access-control-expose-headers'];
    headers['access-control-expose-headers'] = `${exposed !== undefined ? `${exposed}, ` : ''}grpc-status, grpc-message`;
  }
  headers['grpc-status'] = String(status);
  headers['grpc-message'] = encodeGrpcMessage(message);
  headers['x-request-id'] = requestId;
  const h2 = res as unknown as Http2ServerResponse;
  // (res.req is unset on the upgrade path's hand-made responses: websocket/hub.ts.)
  if ((res.req as IncomingMessage | undefined)?.httpVersionMajor === 2) {
    // The stream's own respond: the compatibility response then reads as ended and sent.
    const stream = h2.stream;
    h2.statusCode = 200;
    // Closed (reset either way) but not yet destroyed, respond() would throw: nothing goes out then.
    if (!stream.closed && !stream.destroyed) stream.respond({ ':status': 200, ...headers }, { endStream: true });
    h2.end();
    settleAfterTrailersOnly(h2.req);
    return status;
  }
  headers['content-length'] = '0';
  res.writeHead(200, headers);
  res.end();
  return status;
}

/**
 * After a trailers-only response, a client still sending (a streaming call refused) is told to
 * stop once the answer is out: RST_STREAM(NO_ERROR), as http2/exchange.ts does after other answers
 * ('wantTrailers', which it waits for there, never comes for a stream ended with its headers).
 * What arrived is let go.
 */
export function settleAfterTrailersOnly(req: Http2ServerRequest): void {
  const stream = req.stream;
  if (stream.endAfterHeaders || stream.state.remoteClose === 1 || stream.destroyed) return;
  req.resume();
  stream.once('finish', () => process.nextTick(() => stream.destroy()));
}

/** grpc-timeout units (PROTOCOL-HTTP2.md) in milliseconds. */
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * A grpc-timeout value in milliseconds: 1 to 8 ASCII digits and a unit (H M S m u n). undefined
 * when it is malformed.
 */
export function parseGrpcTimeout(value: string): number | undefined {
  const m = /^([0-9]{1,8})([HMSmun])$/.exec(value);
  if (m === null) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/**
 * gRPC status → HTTP, the mapping of google/rpc/code.proto as grpc-gateway and Envoy apply it: a
 * transcoded call's error status, and what a trailers-only answer counts as for passive health
 * and the circuit breaker (UNAVAILABLE is a 503 there, not the 200 it came with).
 */
const HTTP_OF_GRPC: readonly number[] = [
  200, // 0 OK
  499, // 1 CANCELLED (client closed request)
  500, // 2 UNKNOWN
  400, // 3 INVALID_ARGUMENT
  504, // 4 DEADLINE_EXCEEDED
  404, // 5 NOT_FOUND
  409, // 6 ALREADY_EXISTS
  403, // 7 PERMISSION_DENIED
  429, // 8 RESOURCE_EXHAUSTED
  400, // 9 FAILED_PRECONDITION (not 412: that one is about HTTP conditional headers)
  409, // 10 ABORTED
  400, // 11 OUT_OF_RANGE
  501, // 12 UNIMPLEMENTED
  500, // 13 INTERNAL
  503, // 14 UNAVAILABLE
  500, // 15 DATA_LOSS
  401, // 16 UNAUTHENTICATED
];

/** The HTTP status for a gRPC status code; codes outside 0..16 are treated as UNKNOWN (500). */
export function httpStatusOf(grpcCode: number): number {
  return HTTP_OF_GRPC[grpcCode] ?? 500;
}
