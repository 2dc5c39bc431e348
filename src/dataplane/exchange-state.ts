// What one exchange holds, and how it ends: its fields, the policies' context, the gateway's own
// answers (a verdict or an error), the end of the exchange (log policies, one record for the
// observers). The lifecycle itself — routing, access, body phases, the upstream call, the
// response — reads top to bottom in exchange.ts, which extends this.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { CompiledRoute, Plan } from './plan.js';
import type { ErrorCode } from '../errors.js';
import type { RequestContext, ServedResponse } from '../policies/types.js';
import type { ServerLimits } from '../edge/server-limits.js';
import type { Logger } from '../observability/logger.js';
import type { CallRecord, RequestRecord } from '../observability/request-record.js';
import type { RequestTrace } from '../observability/tracing/request-trace.js';
import type { Tracer } from '../observability/tracing/tracer.js';
import { normalizeHost } from '../config/host-pattern.js';
import { requestBodyBytes, type ClientInfo, type ScannedHeaders } from './forwarding.js';
import { closesConnection, sendAnswer, type Answer } from './respond.js';
import { hasBody } from './request-body.js';
import type { UpstreamCall } from './upstream-call.js';
import type { HttpsRedirect } from './https-redirect.js';
import type { TransformedResponse } from './response-transform.js';
import type { HeldResponse } from './body-phases.js';
import type { ResponseTaps } from './upstream-response.js';
import type { InternalRequest, InternalResponse } from '../routes/types.js';
import type { GrpcCall } from './grpc-call.js';

/** Set on a socket whose request the gateway refused as malformed: nothing after it is served. */
export const REFUSED = Symbol('gatehouse.refused');

/** What an exchange needs from the data plane that runs it. */
export interface ExchangeHost {
  readonly draining: boolean;
  /** Requests are observed: clock and socket counters are read, a record is made. */
  readonly timed: boolean;
  readonly limits: ServerLimits;
  readonly tracer: Tracer | undefined;
  readonly log: Logger;
  /** Once per exchange, when its response is finished or abandoned. */
  completed(ex: ExchangeState): void;
  /**
   * Runs a request through this host's own routes and policies, as a client at `from` would send
   * it (a batch item: internal-dispatch.ts). Rejects with an InternalDispatchError.
   */
  dispatchInternal?(
    req: InternalRequest,
    from: {
      remoteAddress: string;
      localAddress?: string | undefined;
      localPort?: number | undefined;
      encrypted: boolean;
      internal: boolean;
    },
  ): Promise<InternalResponse>;
}

export abstract class ExchangeState {
  requestId = '';
  trace: RequestTrace | undefined;
  /** The tracer the trace started with (a reload may replace or remove the plane's). */
  tracer: Tracer | undefined;
  /** The connection, when the request is observed (req.socket is gone by the time it ends). */
  socket: Socket | undefined;
  /** Set by the data plane for a plain listener with `redirectHttps`: every request is redirected. */
  listenerRedirect: HttpsRedirect | undefined;
  protected started = 0;
  protected socketRead = 0;
  protected socketWritten = 0;
  protected path = '';
  protected query = '';
  protected route: CompiledRoute | undefined;
  protected client: ClientInfo | undefined;
  protected status = 0;
  protected errorCode: ErrorCode | undefined;
  /** The policy type that answered instead of the upstream. */
  protected rejectedBy: string | undefined;
  protected scan: ScannedHeaders | undefined;
  protected params: Record<string, string> = {};
  protected rest = '';
  protected ctx: RequestContext | undefined;
  protected call: UpstreamCall | undefined;
  /** The body read whole to be replayed; null until then, or for a streamed one. */
  protected body: Buffer | null = null;
  /** Bytes of the client's body read whole, for payload routing or the requestBody phase (-1: not read so). */
  protected bodyRead = -1;
  /** What payload routing read of a body larger than `maxBodyForMatch` (the rest is still in `req`). */
  protected bodyPrefix: Buffer[] | undefined;
  /** A response held for the responseBody phase. */
  protected held: HeldResponse | undefined;
  /** A response a responseBody policy translates as it streams. */
  protected transform: TransformedResponse | undefined;
  /** A preflight routed by the method it asks about: the `Allow` of its 405 if no policy answers it. */
  protected preflightAllow: string | undefined;
  /** Resumes the paused upstream body (undici's), and whether 'drain' calls it yet. */
  protected resume: (() => void) | undefined;
  protected drainHooked = false;
  /** The upstreamResponse phase's taps on the service's body (a cache storing it). */
  protected taps: ResponseTaps | undefined;
  /** A response a policy serves in the service's place once the service's body has been read and dropped. */
  protected replacement: ServedResponse | undefined;
  protected clientGone = false;
  protected done = false;
  /** The service requests a route kind's handler made (a composite's calls). */
  protected calls: CallRecord[] | undefined;
  /** A gRPC call (HTTP/2 only: http2/exchange.ts): its operation, deadline and grpc-status (grpc-call.ts). */
  protected grpc: GrpcCall | undefined;

  constructor(
    readonly plane: ExchangeHost,
    readonly plan: Plan,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  /** The context policies see; built only for routes that have policies. */
  context(): RequestContext {
    return (this.ctx ??= {
      req: this.req,
      requestId: this.requestId,
      method: this.req.method!,
      host: normalizeHost(this.scan!.host),
      path: this.path,
      query: this.query,
      clientIp: this.client?.ip ?? '',
      routeName: this.route?.name ?? '',
      serviceName: this.route?.service?.name ?? '',
      params: this.params,
      // What policies tell the gateway (typed), and their private scratch.
      identity: undefined,
      errorHeaders: undefined,
      shadowLimited: undefined,
      // Declared up front, so that a policy setting one later keeps the object's shape (one hidden class for every request).
      cacheStatus: undefined,
      upstreamTarget: undefined,
      operation: this.grpc?.operation, // a gRPC call's method; a policy that reads another protocol sets its own
      locals: new Map(),
    });
  }

  // ---- the upstream call's outcome ----

  get observed(): boolean {
    return this.socket !== undefined;
  }

  headersSent(): boolean {
    return this.res.headersSent;
  }

  // ---- the gateway's own answers ----

  /** Every answer the gateway gives itself: a policy's verdict or an error. */
  respond(a: Answer): void {
    const res = this.res;
    // Drain may begin while this request runs: its answer must still say `connection: close`.
    // Answered before the body was read (a 401, 429 …), node would read and drop the rest on a
    // keep-alive connection with no idle limit, so a slow sender could hold it: close it too.
    if (this.plane.draining || (this.scan !== undefined && !this.req.complete && hasBody(this.scan))) res.shouldKeepAlive = false;
    if (a.kind === 'verdict') {
      this.rejectedBy = a.by;
      this.errorCode = a.verdict.code;
    } else this.errorCode = a.code;
    if (closesConnection(a)) {
      // Nothing that arrives on this connection after this request is served.
      const socket = this.req.socket as unknown as Record<symbol, boolean> | null;
      if (socket) socket[REFUSED] = true;
    }
    const grpcStatus = sendAnswer(res, a, this.requestId, this.plane.limits.serverHeader, this.ctx?.errorHeaders);
    this.status = res.statusCode;
    if (this.grpc !== undefined && grpcStatus !== undefined) this.grpc.status = grpcStatus;
  }

  /** Runs a later step of this request from a callback: a throw answers it (500) rather than escaping to the process. */
  step(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.crashed(err);
    }
  }

  /** A bug escaped the request's own handling (e.g. a policy threw): 500 if nothing was sent yet, logged. */
  crashed(err: unknown): void {
    this.plane.log.error({ err, requestId: this.requestId, route: this.route?.name }, 'request handling failed');
    if (!this.res.headersSent) this.respond({ kind: 'error', code: faultCode(err), close: true });
    else this.res.destroy();
  }

  // ---- the end ----

  /** The whole response reached the client's connection (else the client went away first). */
  protected responseFinished(): boolean {
    return this.res.writableFinished;
  }

  protected finish(): void {
    if (this.done) return;
    this.done = true;
    this.grpc?.stop();
    if (!this.responseFinished()) this.clientGone = true;
    this.taps?.abort(); // no-op once the body ended
    this.transform?.abort(); // likewise
    this.call?.end(this.clientGone);
    const route = this.route;
    if (route && route.log.length) {
      for (const p of route.log) {
        try {
          p.log!(this.context(), this.status);
        } catch {
          /* logging must not break the request */
        }
      }
    }
    this.plane.completed(this);
  }

  /** What the observers learn about this request: one record, taken once when it ends (observed requests only). */
  record(): RequestRecord {
    const sock = this.socket!;
    const { req, route, trace, call, scan } = this;
    const identity = this.ctx?.identity;
    return {
      requestId: this.requestId,
      traceId: trace?.traceId,
      clientIp: this.client?.ip,
      // Only a fallback for a request that ended before its client was resolved.
      peerIp: this.client === undefined ? sock.remoteAddress : undefined,
      consumer: identity === undefined ? undefined : (identity.consumerId ?? identity.username),
      method: req.method ?? '',
      scheme: (sock as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      protocol: req.httpVersion,
      host: scan?.host,
      path: this.path,
      query: this.query,
      route: route?.name,
      service: route?.service?.name,
      target: call?.target?.url,
      status: this.status,
      grpcStatus: this.grpc?.status,
      bytesIn: scan === undefined ? 0 : requestBodyBytes(scan, req.complete, sock.bytesRead - this.socketRead),
      bytesOut: sock.bytesWritten - this.socketWritten,
      durationMs: performance.now() - this.started,
      upstreamMs: call !== undefined && call.upstreamMs >= 0 ? call.upstreamMs : undefined,
      rejectedBy: this.rejectedBy,
      shadowLimited: this.ctx?.shadowLimited,
      error: this.errorCode,
      retries: call?.retries ?? 0,
      cache: this.ctx?.cacheStatus,
      calls: this.calls,
      operation: this.ctx?.operation ?? this.grpc?.operation,
      userAgent: scan?.userAgent,
      aborted: !this.responseFinished(),
      trace: trace !== undefined && trace.sampled ? trace : undefined,
      tracer: this.tracer,
    };
  }
}

/** A plugin's fault is named as one (plugin-guard.ts); anything else is the gateway's. */
export function faultCode(err: unknown): 'GW_POLICY_ERROR' | 'GW_INTERNAL' {
  return (err as { gatewayCode?: unknown } | null)?.gatewayCode === 'GW_POLICY_ERROR' ? 'GW_POLICY_ERROR' : 'GW_INTERNAL';
}
