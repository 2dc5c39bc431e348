// The `server:` block compiled into numbers, and applied to a node http.Server. Node's own
// timers do the work (headersTimeout, requestTimeout, keepAliveTimeout, maxRequestsPerSocket);
// what node cannot answer the way we want (header count, URL length, the body idle timeout) is
// checked by the exchange with these numbers.
import type http from 'node:http';
import type { GatehouseConfig } from '../config/schema.js';
import { parseDuration, parseSize } from '../config/units.js';

export interface ServerLimits {
  headersTimeout: number;
  requestTimeout: number;
  bodyIdleTimeout: number;
  keepAliveTimeout: number;
  maxRequestsPerSocket: number;
  maxHeaderSize: number;
  maxHeaderCount: number;
  maxUrlLength: number;
  /** The Server header value, or undefined for none. */
  serverHeader: string | undefined;
  /** A ";" in the path is accepted (matrix parameters); false: refused with 400 GW_BAD_PATH. */
  allowSemicolonInPath: boolean;
  /** How much of a body is read to test `match.body` conditions. */
  maxBodyForMatch: number;
  /** HTTP/2 connections (`server.http2`, and the header limits above in HTTP/2's terms). */
  http2: Http2Limits;
}

export interface Http2Limits {
  maxConcurrentStreams: number;
  maxEarlyResets: number;
  /**
   * SETTINGS_MAX_HEADER_LIST_SIZE: HPACK counts 32 bytes per field beyond its name and value
   * (RFC 9113 §6.5.2), so the allowance for maxHeaderCount fields (and five pseudo-headers) is
   * added to maxHeaderSize: a header block that fits HTTP/1.1's limit fits this one.
   */
  maxHeaderListSize: number;
  /**
   * Fields node accepts before it resets the stream: never fewer than the size limit allows, so a
   * block with too many fields reaches the exchange and is answered 431, as over HTTP/1.1.
   */
  maxHeaderListPairs: number;
}

export function compileServerLimits(server: GatehouseConfig['server']): ServerLimits {
  return {
    headersTimeout: parseDuration(server.headersTimeout),
    requestTimeout: parseDuration(server.requestTimeout),
    bodyIdleTimeout: parseDuration(server.bodyIdleTimeout),
    keepAliveTimeout: parseDuration(server.keepAliveTimeout),
    maxRequestsPerSocket: server.maxRequestsPerSocket,
    maxHeaderSize: parseSize(server.maxHeaderSize),
    maxHeaderCount: server.maxHeaderCount,
    maxUrlLength: server.maxUrlLength,
    serverHeader: server.serverHeader === false ? undefined : server.serverHeader,
    allowSemicolonInPath: server.allowSemicolonInPath,
    maxBodyForMatch: parseSize(server.maxBodyForMatch),
    http2: http2Limits(server),
  };
}

function http2Limits(server: GatehouseConfig['server']): Http2Limits {
  const maxHeaderListSize = parseSize(server.maxHeaderSize) + 32 * (server.maxHeaderCount + 5);
  return {
    maxConcurrentStreams: server.http2.maxConcurrentStreams,
    maxEarlyResets: server.http2.maxEarlyResets,
    maxHeaderListSize,
    maxHeaderListPairs: Math.ceil(maxHeaderListSize / 32) + 1,
  };
}

/** Options for http.createServer (and https.createServer). The strict parser always: never insecureHTTPParser. */
export function serverOptions(l: ServerLimits): http.ServerOptions & { handshakeTimeout?: number } {
  // Node checks header/request timeouts on an interval (30 s by default): with short timeouts a
  // slow-header connection would live up to 30 s longer than configured.
  const shortest = l.requestTimeout > 0 ? Math.min(l.headersTimeout, l.requestTimeout) : l.headersTimeout;
  return {
    insecureHTTPParser: false,
    // A missing Host is refused by the exchange: node's own check answers a bare 400 and still
    // serves a request pipelined behind it.
    requireHostHeader: false,
    maxHeaderSize: l.maxHeaderSize,
    headersTimeout: l.headersTimeout,
    requestTimeout: l.requestTimeout,
    keepAliveTimeout: l.keepAliveTimeout,
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(shortest / 4))),
    // TLS listeners: the handshake gets the time a request head gets (node's default is 120 s),
    // as nginx's client_header_timeout covers its SSL handshake. Plain listeners ignore it.
    handshakeTimeout: l.headersTimeout > 0 ? l.headersTimeout : 120_000,
  };
}

export function applyServerLimits(server: http.Server, l: ServerLimits): void {
  server.maxRequestsPerSocket = l.maxRequestsPerSocket;
  // Node silently drops header fields beyond maxHeadersCount; one more than the limit lets the
  // exchange see that the limit was passed and answer 431 instead.
  server.maxHeadersCount = l.maxHeaderCount + 1;
  // Node's socket timeout stays off: it would also cut long upstream waits. The body idle timeout
  // is armed by the exchange only while a request body streams in.
  server.timeout = 0;
}
