// An HTTP/2 request's exchange: the same lifecycle, routing, policies and answers as HTTP/1.1
// (exchange.ts, over node's compatibility API: Http2ServerRequest/Response stand in for
// IncomingMessage/ServerResponse), with what differs when a connection carries many streams:
//
// - An answer never closes the connection: a refusal ends its own stream only, so `close` and
//   any `Connection` header are left out (node throws on connection-specific fields in HTTP/2,
//   RFC 9113 §8.2.2); a response policy's such fields are left out of the head too.
// - A stream answered before its request body was all here is reset with NO_ERROR once the
//   answer is out (RFC 9113 §8.1), so the client stops sending; the connection is untouched
//   (exchange.ts would destroy the socket, which here is every stream's). Body data that arrived
//   but was not read is let go (node would keep the stream open for it). Whether a request is
//   "complete" is read from the stream: the compatibility API's `complete` waits until someone
//   has read the body to its end, which for a GET nobody does.
// - Trailers of the upstream's response always reach the client (HTTP/2 frames them).
// - Bytes: the connection's counters belong to all its streams, so a request's bytes are its
//   body's — what the upstream's response and the gateway's answers wrote, and the request body
//   as counted while it streamed (or its Content-Length).
// - A gRPC call (grpc.ts) is known from the start: its deadline runs from its arrival
//   (grpc-deadline.ts), and its operation and grpc-status are recorded.
import { constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Readable } from 'node:stream';
import { Exchange } from '../exchange.js';
import type { Answer } from '../respond.js';
import type { ScannedHeaders } from '../forwarding.js';
import type { HeaderList } from '../../policies/types.js';
import type { RequestRecord } from '../../observability/request-record.js';
import { BodyLimit } from '../../edge/body-limit.js';
import { trailerObject } from '../trailers.js';
import type { CompiledRoute } from '../plan.js';
import { GRPC_STATUS, isGrpcRequest, settleAfterTrailersOnly } from '../grpc.js';
import { GrpcCall, grpcStatusIn } from '../grpc-call.js';
import { grpcDeadlinePassed } from './grpc-deadline.js';

/** Response fields HTTP/2 forbids (RFC 9113 §8.2.2); node refuses to send them. */
/** How long a 408's few hundred bytes may take to go out before its stream is cut regardless. */
const ANSWER_GRACE_MS = 1000;

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export class H2Exchange extends Exchange {
  private bytesOut = 0;
  /** Read while the stream is open: `req.socket` reaches the connection only through a live stream. */
  private encrypted = false;
  /** The request body as it streamed upstream, counted (the connection's byte counters are every stream's). */
  private counted: BodyLimit | undefined;
  /** The service's gRPC response was trailers-only: it went out as one HEADERS frame ending the stream. */
  private trailersOnly = false;

  override run(): void {
    this.encrypted = (this.req.socket as { encrypted?: boolean }).encrypted === true;
    this.armRequestTimeout();
    if (isGrpcRequest(this.req)) {
      const url = this.req.url ?? '';
      const q = url.indexOf('?');
      const grpc = (this.grpc = new GrpcCall(this.req, q === -1 ? url : url.slice(0, q)));
      grpc.arm(() => this.step(() => this.deadlinePassed()));
    }
    super.run();
  }

  /** A gRPC call with a malformed grpc-timeout is refused once routed (INTERNAL, as grpc-js servers do). */
  protected override runAccess(route: CompiledRoute): void {
    if (this.grpc?.badTimeout === true) return this.respond({ kind: 'error', code: 'GW_GRPC_BAD_TIMEOUT' });
    super.runAccess(route);
  }

  /** Answered already (a gRPC deadline, a 408) while the call waited in its service's queue: it must not start now. */
  override admitted(): void {
    if (this.clientGone) return;
    super.admitted();
  }

  /** The gRPC call's deadline passed (grpc-deadline.ts): the upstream call is cancelled, the client told. */
  private deadlinePassed(): void {
    if (this.done) return;
    const stream = (this.req as unknown as Http2ServerRequest).stream;
    grpcDeadlinePassed(stream, this.res.headersSent, {
      cancelUpstream: () => {
        this.call?.cancel(new Error('grpc deadline'));
        // Nothing more runs for this call: a pending policy or body read must not start it after the answer.
        this.clientGone = true;
      },
      answer: () => this.respond({ kind: 'error', code: 'GW_GRPC_DEADLINE_EXCEEDED' }),
      reset: () => {
        this.errorCode = 'GW_GRPC_DEADLINE_EXCEEDED';
        this.grpc!.status = GRPC_STATUS.DEADLINE_EXCEEDED;
      },
    });
  }

  /**
   * `server.requestTimeout` bounds the request (head and body) until it is answered, as node does
   * for HTTP/1.1; nothing in node's HTTP/2 does, so a client trickling its body would hold the
   * stream — and the upstream connection its body streams to — for as long as it liked. Not yet
   * all here when the time is up, and no response head sent yet: 408 (the upstream request is
   * cut). Once the service has answered, a stream that keeps sending is its business (a gRPC
   * call streaming both ways); bodyIdleTimeout still bounds its pauses.
   */
  private armRequestTimeout(): void {
    const ms = this.plane.limits.requestTimeout;
    const stream = (this.req as unknown as Http2ServerRequest).stream;
    if (ms <= 0 || stream.endAfterHeaders) return;
    const timer = setTimeout(() => this.step(() => this.requestTimedOut()), ms);
    timer.unref();
    this.res.once('close', () => clearTimeout(timer));
  }

  private requestTimedOut(): void {
    const stream = (this.req as unknown as Http2ServerRequest).stream;
    if (stream.closed || stream.state.remoteClose === 1 || this.res.headersSent) return; // all here, or answered
    this.call?.cancel(new Error('request timeout'));
    // Nothing more runs for this request: a body read that still ends, or an access policy still
    // pending, must not start the upstream call after the 408 (each checks clientGone).
    this.clientGone = true;
    this.respond({ kind: 'error', code: 'GW_BAD_REQUEST', status: 408, message: 'Request timeout.' });
    // settleRequest resets the stream once the answer is out. Should that never come (the answer
    // is a few hundred bytes), the stream is cut anyway: this path exists to free it.
    const backstop = setTimeout(() => {
      if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    }, ANSWER_GRACE_MS);
    backstop.unref();
    stream.once('close', () => clearTimeout(backstop));
  }

  override respond(a: Answer): void {
    super.respond(forHttp2(a));
    this.bytesOut += Number(this.res.getHeader('content-length')) || 0;
    this.settleRequest();
  }

  protected override write(chunk: Buffer): boolean {
    if (this.trailersOnly) return true; // a trailers-only response has no body (a service's stray bytes are dropped)
    this.bytesOut += chunk.length;
    return super.write(chunk);
  }

  protected override endResponse(trailers: readonly (Buffer | string)[] | null | undefined): void {
    // The stream ended with the head (settled in writeHead): no trailers.
    if (this.trailersOnly) return void this.res.end();
    if (trailers != null && trailers.length > 0) (this.res as unknown as Http2ServerResponse).addTrailers(trailerObject(trailers));
    this.settleRequest();
    this.res.end();
  }

  /**
   * An error reset, not the compatibility API's destroy(): that resets with NO_ERROR, which a
   * client may take for the end of a complete (but cut-short) response.
   */
  protected override breakOff(): void {
    const stream = (this.res as unknown as Http2ServerResponse).stream;
    if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  protected override responseFinished(): boolean {
    return http2ResponseFinished(this.res as unknown as Http2ServerResponse);
  }

  override record(): RequestRecord {
    const r = super.record();
    r.scheme = this.encrypted ? 'https' : 'http';
    r.bytesOut = this.bytesOut;
    // Streamed: as counted. Read whole (or not at all): its Content-Length once it was all read.
    r.bytesIn =
      this.counted?.bytes ?? (this.bodyRead >= 0 ? this.bodyRead : this.req.readableEnded ? Number(this.scan?.contentLength) || 0 : 0);
    return r;
  }

  protected override writeHead(status: number, headers: HeaderList): void {
    withoutConnectionFields(headers);
    if (this.grpc !== undefined && grpcStatusIn(headers) !== undefined) {
      // A gRPC service's trailers-only response (grpc-status in its head: an error before any
      // message) stays one: HEADERS with END_STREAM. Node's compatibility API would send the head,
      // then end the stream with an empty DATA frame: a gRPC client reads that as a response
      // without trailers, and fails the call with INTERNAL instead of the service's status.
      const stream = (this.res as unknown as Http2ServerResponse).stream;
      this.trailersOnly = true;
      this.res.statusCode = status;
      if (!stream.closed && !stream.destroyed) stream.respond({ ...trailerObject(headers), ':status': status }, { endStream: true }); // (see grpc.ts)
      // The client's answer is complete: a client still sending is told to stop now, not when the
      // service ends its stream (a service that never does would hold the call open until a
      // timeout or the deadline, which would then reset it with CANCEL and log DEADLINE_EXCEEDED).
      // Settled here, before the stream's 'finish', which settleAfterTrailersOnly waits for.
      settleAfterTrailersOnly(this.req as unknown as Http2ServerRequest);
      return;
    }
    super.writeHead(status, headers);
  }

  protected override streamBody(scan: ScannedHeaders, maxBodyBytes: number): Readable {
    // A body without Content-Length is held to the route's limit as it streams (one with it was
    // checked up front); either is counted.
    const counted = (this.counted = new BodyLimit(scan.transferEncoding !== undefined ? maxBodyBytes : Infinity));
    return this.bodySource().pipe(counted);
  }

  /**
   * The request side once the answer is on its way: nothing to do when the body was all read (or
   * there was none). Else what arrived is let go, and a client still sending is told to stop:
   * RST_STREAM(NO_ERROR) once the response is out, trailers included ('wantTrailers' comes after
   * node's compatibility layer has sent them; the response's own 'finish' would wait for the
   * stream to close, which an unread upload never lets it do).
   */
  private settleRequest(): void {
    settleHttp2Request(this.req as unknown as Http2ServerRequest);
  }
}

/** See H2Exchange.settleRequest (also used by the WebSocket handshake over HTTP/2). */
export function settleHttp2Request(req: Http2ServerRequest): void {
  const stream = req.stream;
  if (stream.endAfterHeaders || req.readableEnded) return;
  req.resume();
  if (stream.state.remoteClose !== 1) stream.once('wantTrailers', () => process.nextTick(() => stream.destroy()));
}

/**
 * Whether the response was ended and its stream closed cleanly. Node's compatibility response
 * says writableFinished once its stream closes, even when the client reset it mid-response.
 */
export function http2ResponseFinished(res: Http2ServerResponse): boolean {
  return res.writableEnded && res.stream.rstCode === constants.NGHTTP2_NO_ERROR;
}

/** The header list without the fields HTTP/2 forbids (changed in place). */
const FORBIDDEN_IN_VALUE = /[\r\n\0]/;

export function withoutConnectionFields(headers: HeaderList): HeaderList {
  for (let i = 0; i < headers.length; i += 2) {
    // Node's HTTP/2 sends a value with CR, LF or NUL as it is (HTTP/1.1 refuses it): one a policy
    // set (a response phase, a transform) would split the head where the response is downgraded.
    if (FORBIDDEN_IN_VALUE.test(headers[i + 1]!)) throw new Error(`header ${headers[i]!} has a CR, LF or NUL in its value`);
    if (CONNECTION_SPECIFIC.has(headers[i]!.toLowerCase())) {
      headers.splice(i, 2);
      i -= 2;
    }
  }
  return headers;
}

/** The answer without what would close the connection (HTTP/2: a refusal ends its stream only). */
export function forHttp2(a: Answer): Answer {
  if (a.kind === 'error') return a.close === true ? { ...a, close: false } : a;
  const headers = a.verdict.headers;
  if (headers === undefined || !Object.keys(headers).some((n) => CONNECTION_SPECIFIC.has(n.toLowerCase()))) return a;
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) kept[name] = value;
  return { ...a, verdict: { ...a.verdict, headers: kept } };
}
