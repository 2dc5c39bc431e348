// What the observers (metrics, access log, tracing, analytics) learn about one finished request.
// The observer takes it once, when the request ends, as one object; each observer reads the
// fields it needs from the same object.
import type { RequestTrace } from './tracing/request-trace.js';

export interface RequestRecord {
  requestId: string;
  /** The trace id (set with tracing on, sampled or not). */
  traceId: string | undefined;
  /** The client after trusted-proxy resolution (unset when the request was refused before it). */
  clientIp: string | undefined;
  /** The socket peer (the access log and the trace fall back to it). */
  peerIp: string | undefined;
  consumer: string | undefined;
  method: string;
  scheme: 'http' | 'https';
  /** The HTTP version, e.g. "1.1". */
  protocol: string;
  host: string | undefined;
  path: string;
  query: string;
  route: string | undefined;
  service: string | undefined;
  /** The last target tried. */
  target: string | undefined;
  /** The status sent (0: none, the client went away first). */
  status: number;
  /** A gRPC call: the grpc-status of its response (trailers, or a trailers-only head); undefined when none was seen. */
  grpcStatus?: number | undefined;
  bytesIn: number;
  bytesOut: number;
  /** Request to end of response, in milliseconds (not rounded). */
  durationMs: number;
  /** First upstream attempt to its response headers; undefined when no upstream answered. */
  upstreamMs: number | undefined;
  /** The policy type that answered instead of the upstream. */
  rejectedBy: string | undefined;
  /** The limit that would have refused this request, had its rate-limit policy not been in shadow mode. */
  shadowLimited?: string;
  /** The gateway error code, when the gateway answered with an error. */
  error: string | undefined;
  retries: number;
  cache: string | undefined;
  userAgent: string | undefined;
  /** The response was not finished (the client went away or the upstream broke off). */
  aborted: boolean;
  /** A route that answers by itself (a composite): the service requests it made. */
  calls?: CallRecord[] | undefined;
  /** The application-level operation a policy read (a GraphQL operation's type and name). */
  operation?: RequestOperation | undefined;
  /** A WebSocket connection (status 101): the code of the first close frame either side sent. */
  closeCode?: number | undefined;
  /** The request's trace, when it is sampled, and the tracer it belongs to. */
  trace: RequestTrace | undefined;
  tracer: TraceEnd | undefined;
}

/** An operation a request carries, as a policy that understands its protocol read it. */
export interface RequestOperation {
  /** "graphql", "grpc". */
  readonly protocol: string;
  /** "query", "mutation", "subscription"; "call" for gRPC (the gateway knows no protos: not which of the four shapes). */
  readonly type: string;
  /** The operation's name (a gRPC call's is its path, `/pkg.Service/Method`); undefined for an anonymous one. */
  readonly name?: string | undefined;
}

/**
 * The longest operation name recorded (access log, metrics, analytics, traces): a name is the
 * client's (a GraphQL operation name, a gRPC method path), as long as its request, and each distinct
 * one may be kept (analytics: up to 1000 a minute for an hour).
 */
const MAX_OPERATION_NAME = 128;

/** `name` as an operation records it: cut past MAX_OPERATION_NAME characters. */
export function operationName(name: string | undefined): string | undefined {
  return name !== undefined && name.length > MAX_OPERATION_NAME ? `${name.slice(0, MAX_OPERATION_NAME)}…` : name;
}

/** One service request a route made by itself (a composite's call; several for a forEach). */
export interface CallRecord {
  /** The call's name. */
  label: string;
  service: string;
  /** The service's status, or why there was none (a gateway error code, `timeout`, `too-large`, `cancelled`). */
  outcome: number | string;
  ms: number;
}

/** What ends a request's trace from its record (the Tracer; named here so the tracer can import this file). */
export interface TraceEnd {
  end(trace: RequestTrace, record: RequestRecord): void;
}
