// One request's way through the gateway — the whole lifecycle, readable top to bottom:
//
//   target (request-target.ts) → route → client identity → access policies
//     → the request body settled → the upstream call (upstream-call.ts: admission, attempts,
//       retries) → upstream request (headers, upstreamRequest policies)
//     → response head (response policies) → streamed body → log policies → one record observed
//
// The gateway's own answers (a policy's verdict, an error) all go out through `respond`. Bodies
// stream both ways with backpressure and are never buffered (except a small one kept for retries).
// The exchange knows no policy by name: what policies tell it travels in typed fields of their
// context (identity, errorHeaders, shadowLimited) and declared capabilities (answersPreflight).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { CompiledRoute, Plan } from './plan.js';
import type { ErrorCode } from '../errors.js';
import type { HeaderList, RequestContext, Verdict } from '../policies/types.js';
import type { ServerLimits } from '../edge/server-limits.js';
import type { Logger } from '../observability/logger.js';
import type { RequestRecord } from '../observability/request-record.js';
import type { RequestTrace } from '../observability/tracing/request-trace.js';
import type { Tracer } from '../observability/tracing/tracer.js';
import { encodePathForUpstream } from './canonical-path.js';
import { normalizeHost } from '../config/host-pattern.js';
import { requestBodyBytes, resolveClient, responseHeaders, scanHeaders, type ClientInfo, type ScannedHeaders } from './forwarding.js';
import { closesConnection, sendAnswer, type Answer } from './respond.js';
import { removeHeader } from './header-list.js';
import { upstreamHeaders } from './upstream-headers.js';
import { requestTarget } from './request-target.js';
import { hasBody, readForReplay, streamedBody } from './request-body.js';
import { UpstreamCall, type CallOwner } from './upstream-call.js';
import { trailerPairs } from './trailers.js';
import { httpsRedirect, type HttpsRedirect } from './https-redirect.js';
import { lookupRoute } from './route-lookup.js';
import { forBodyPhases, HeldResponse, requestBodyPhase, rewritesFor } from './body-phases.js';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:@+/=-]{1,200}$/;
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
  completed(ex: Exchange): void;
}

export class Exchange implements CallOwner {
  requestId = '';
  trace: RequestTrace | undefined;
  /** The tracer the trace started with (a reload may replace or remove the plane's). */
  tracer: Tracer | undefined;
  /** The connection, when the request is observed (req.socket is gone by the time it ends). */
  socket: Socket | undefined;
  /** Set by the data plane for a plain listener with `redirectHttps`: every request is redirected. */
  listenerRedirect: HttpsRedirect | undefined;
  private started = 0;
  private socketRead = 0;
  private socketWritten = 0;
  private path = '';
  private query = '';
  protected route: CompiledRoute | undefined;
  private client: ClientInfo | undefined;
  protected status = 0;
  private errorCode: ErrorCode | undefined;
  /** The policy type that answered instead of the upstream. */
  private rejectedBy: string | undefined;
  protected scan: ScannedHeaders | undefined;
  private params: Record<string, string> = {};
  private rest = '';
  private ctx: RequestContext | undefined;
  protected call: UpstreamCall | undefined;
  /** The body read whole to be replayed; null until then, or for a streamed one. */
  private body: Buffer | null = null;
  /** The requestBody policies had the body (it is sent with a Content-Length of its own). */
  private bodyReplaced = false;
  /** Bytes of the body read whole for the requestBody phase (-1: not read so). */
  protected bodyRead = -1;
  /** A response held for the responseBody phase. */
  private held: HeldResponse | undefined;
  /** A preflight routed by the method it asks about: the `Allow` of its 405 if no policy answers it. */
  private preflightAllow: string | undefined;
  /** Resumes the paused upstream body (undici's), and whether 'drain' calls it yet. */
  private resume: (() => void) | undefined;
  private drainHooked = false;
  private clientGone = false;
  private done = false;

  constructor(
    readonly plane: ExchangeHost,
    readonly plan: Plan,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  run(): void {
    const { req, res, plan, plane } = this;
    if (plane.timed) {
      this.started = performance.now();
      const sock = (this.socket = req.socket);
      this.socketRead = sock.bytesRead;
      this.socketWritten = sock.bytesWritten;
    }
    res.on('close', () => this.finish()); // emitted once; `on` spares the once-wrapper per request
    const scan = (this.scan = scanHeaders(req.rawHeaders));
    const tracer = plane.tracer;
    if (tracer !== undefined && this.socket !== undefined) {
      this.tracer = tracer;
      // Several traceparent fields make it invalid (W3C Trace Context §3.2): a new trace starts.
      this.trace = tracer.start(scan.traceparentCount === 1 ? scan.traceparent : undefined, scan.tracestate);
    }
    this.requestId = scan.requestId !== undefined && VALID_REQUEST_ID.test(scan.requestId) ? scan.requestId : randomUUID();
    if (plane.draining) res.shouldKeepAlive = false;

    // Target and canonical path.
    const target = requestTarget(req, scan, plane.limits);
    if ('kind' in target) return this.respond(target);
    const path = (this.path = target.path);
    const query = (this.query = target.query);
    if (this.listenerRedirect !== undefined) {
      // Before routing: a listener that only sends clients to HTTPS knows no routes.
      this.client = resolveClient(req.socket.remoteAddress, scan, plan.trustedProxies);
      const to = httpsRedirect(this.listenerRedirect, req, scan, this.client);
      if (to !== undefined) return this.respond(to);
    }

    // Route.
    const found = lookupRoute(plan, req, normalizeHost(scan.host), path, query);
    if ('kind' in found) return this.respond(found);
    this.preflightAllow = found.preflightAllow;
    const route = (this.route = found.match.entry.route);
    this.params = found.match.params;
    this.rest = found.match.rest;
    this.client = resolveClient(req.socket.remoteAddress, scan, plan.trustedProxies);
    if (route.redirectHttps !== undefined) {
      const to = httpsRedirect(route.redirectHttps, req, scan, this.client);
      if (to !== undefined) return this.respond(to);
    }

    this.runAccess(route);
  }

  /** Access policies (may be asynchronous: JWKS, introspection, shared counters). */
  protected runAccess(route: CompiledRoute): void {
    const access = route.access;
    for (let i = 0; i < access.length; i++) {
      const v = access[i]!.access!(this.context());
      if (v !== undefined && typeof (v as Promise<Verdict>).then === 'function') {
        void this.continueAccessAsync(v as Promise<Verdict>, i);
        return;
      }
      if (v !== undefined)
        return this.respond({ kind: 'verdict', verdict: v as Exclude<Verdict, undefined | Promise<Verdict>>, by: route.accessTypes[i] });
    }
    this.accessPassed();
  }

  private async continueAccessAsync(pending: Promise<Verdict>, index: number): Promise<void> {
    try {
      let v = await pending;
      const access = this.route!.access;
      let by = index;
      for (let i = index + 1; v === undefined && i < access.length; i++) {
        // The client left (the log phase already ran): a later policy must not take a slot or a
        // count that nothing would give back.
        if (this.clientGone) return;
        by = i;
        v = await access[i]!.access!(this.context());
      }
      if (this.clientGone) return;
      if (v !== undefined) this.respond({ kind: 'verdict', verdict: v, by: this.route!.accessTypes[by] });
      else this.accessPassed();
    } catch (err) {
      this.crashed(err); // logged; 500 (GW_POLICY_ERROR for a plugin's fault) and the connection closed
    }
  }

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
      serviceName: this.route?.service.name ?? '',
      params: this.params,
      // What policies tell the gateway (typed), and their private scratch.
      identity: undefined,
      errorHeaders: undefined,
      shadowLimited: undefined,
      locals: new Map(),
    });
  }

  /** After the access policies: the body is settled (request-body.ts), then the upstream call admitted. */
  protected accessPassed(): void {
    if (this.preflightAllow !== undefined)
      return this.respond({ kind: 'error', code: 'GW_METHOD_NOT_ALLOWED', headers: { allow: this.preflightAllow } });
    const call = (this.call = new UpstreamCall(this, this.route!, this.plane.log));
    const scan = this.scan!;
    if (this.route!.requestBody.length > 0) return this.readBodyForPolicies(call);
    if (!hasBody(scan)) return call.admit();
    const whole = readForReplay(this.req, scan, this.plane.limits.bodyIdleTimeout, call.replayableBodyLimit, (body) =>
      this.step(() => {
        if (this.clientGone) return;
        this.body = body;
        call.admit();
      }),
    );
    if (whole) return;
    call.noReplay(); // a streamed body cannot be sent twice
    call.admit();
  }

  /** The requestBody phase (body-phases.ts): the body read whole and given to its policies, then admitted. */
  private readBodyForPolicies(call: UpstreamCall): void {
    const route = this.route!;
    requestBodyPhase(this.req, this.scan!, route, this.plane.limits.bodyIdleTimeout, () => this.context(), {
      gone: () => this.clientGone,
      step: (fn) => this.step(fn),
      refuse: (a) => this.respond(a),
      crashed: (err) => this.crashed(err),
      passed: (body) => {
        this.body = body;
        this.bodyRead = body.length;
        this.bodyReplaced = true;
        call.admit();
      },
    });
  }

  /** Admitted upstream: builds the upstream request once; each attempt only sets its Host and traceparent. */
  admitted(): void {
    const route = this.route!;
    const scan = this.scan!;
    const ctx = this.ctx;
    const https = (this.req.socket as { encrypted?: boolean }).encrypted === true;
    // Before the slots below are placed: the body phases' fields (body-phases.ts).
    if (this.bodyReplaced || route.responseBody.length > 0)
      forBodyPhases(scan.forward, this.bodyReplaced ? this.body! : undefined, hasBody(scan), route.responseBody.length > 0);
    const up = upstreamHeaders(
      this,
      scan,
      this.client!,
      https ? 'https' : 'http',
      this.plan.identityHeaders,
      ctx?.identity,
      this.trace !== undefined,
      route.upstreamRequest,
    );
    const rewritten = route.rewrite ? route.rewrite(this.path, this.params, this.rest) : this.path;
    this.call!.send({
      method: this.req.method!,
      headers: up.headers,
      hostIndex: up.hostIndex,
      host: route.preserveHost ? scan.host : undefined,
      traceIndex: up.traceIndex,
      path: encodePathForUpstream(rewritten, this.plane.limits.allowSemicolonInPath),
      query: ctx !== undefined ? ctx.query : this.query, // a policy may have hidden a credential in it
      body: this.body ?? (hasBody(scan) ? this.streamBody(scan, route.maxBodyBytes) : null),
    });
  }

  /** The request body as it streams upstream (HTTP/2 counts it: http2/exchange.ts). */
  protected streamBody(scan: ScannedHeaders, maxBodyBytes: number): Readable {
    return streamedBody(this.req, scan, maxBodyBytes);
  }

  // ---- the upstream call's outcome ----

  get observed(): boolean {
    return this.socket !== undefined;
  }

  headersSent(): boolean {
    return this.res.headersSent;
  }

  /** The response head: server header, response policies, then it goes to the client. */
  upstreamHead(upstreamStatus: number, rawHeaders: Buffer[] | string[], resume: () => void): boolean {
    const headers = responseHeaders(rawHeaders, this.requestId);
    const serverHeader = this.plane.limits.serverHeader;
    if (serverHeader !== undefined) {
      removeHeader(headers, 'server');
      headers.push('server', serverHeader);
    }
    const route = this.route!;
    const res = this.res;
    try {
      let status = upstreamStatus;
      if (route.response.length) {
        const info = { status, headers };
        for (const p of route.response) p.response!(this.context(), info);
        status = info.status;
      }
      this.status = status;
      if (this.plane.draining) res.shouldKeepAlive = false;
      if (route.responseBody.length > 0 && this.holdsBody(status, headers)) {
        this.resume = resume;
        return true; // the head waits for the body (body-phases.ts)
      }
      this.writeHead(status, headers);
    } catch (err) {
      // A response policy (or an invalid header it set) failed: the gateway's fault, not the
      // target's. Stop the upstream call and answer 500.
      this.plane.log.error({ err, requestId: this.requestId, route: route.name }, 'response phase failed');
      this.call!.cancel(err as Error);
      if (!res.headersSent) this.respond({ kind: 'error', code: faultCode(err) });
      return false;
    }
    this.resume = resume;
    return true;
  }

  upstreamData(chunk: Buffer): boolean {
    const held = this.held;
    return held === undefined || held.released ? this.write(chunk) : held.data(chunk);
  }

  /** A chunk of the response body to the client (HTTP/2 counts it: http2/exchange.ts). */
  protected write(chunk: Buffer): boolean {
    const res = this.res;
    if (res.write(chunk)) return true;
    // Backpressure: undici pauses until the client has taken what is queued. Most responses
    // never get here, so the listener is added only then (once).
    if (!this.drainHooked) {
      this.drainHooked = true;
      res.on('drain', () => this.resume!());
    }
    return false;
  }

  /** The response head to the client (HTTP/2 leaves out what its framing forbids: http2/exchange.ts). */
  protected writeHead(status: number, headers: HeaderList): void {
    this.res.writeHead(status, headers);
  }

  upstreamEnd(trailers?: readonly (Buffer | string)[] | null): void {
    if (this.held !== undefined && !this.held.released) return this.held.end(); // rewritten, then endResponse
    this.endResponse(trailers);
  }

  /** The response ends (HTTP/2 ends its stream: http2/exchange.ts). */
  protected endResponse(trailers: readonly (Buffer | string)[] | null | undefined): void {
    if (!this.req.complete) {
      // The upstream answered before the client's body was all here: undici drops the upstream
      // connection and the rest of the body with it, so this client connection is stuck
      // mid-request and can never carry another one. Close it once the response is out.
      const socket = this.req.socket;
      this.res.once('finish', () => socket.destroySoon());
    }
    // Trailers reach a client that said it takes them (TE: trailers), in a chunked body.
    if (trailers != null && trailers.length > 0 && this.scan!.trailers) this.res.addTrailers(trailerPairs(trailers));
    this.res.end();
  }

  /** The responseBody phase: whether a policy wants this response whole; if so it is held (body-phases.ts). */
  private holdsBody(status: number, headers: HeaderList): boolean {
    const info = { status, headers };
    const rewrites = rewritesFor(this.route!.responseBody, this.context(), info);
    if (rewrites === undefined) return false;
    this.held = new HeldResponse(info, rewrites, {
      head: (st, h) => {
        this.status = st;
        this.writeHead(st, h);
      },
      write: (c) => this.write(c),
      end: () => this.endResponse(null),
      refuse: (code, message, cancel, details) => {
        if (cancel) this.call!.cancel(new Error('response body over the rewrite limit'));
        this.respond({ kind: 'error', code, message, details });
      },
      crashed: (err) => this.crashed(err),
      gone: () => this.clientGone,
    });
    return true;
  }

  upstreamBroke(code: ErrorCode): void {
    this.errorCode = code;
    this.res.destroy();
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
    sendAnswer(res, a, this.requestId, this.plane.limits.serverHeader, this.ctx?.errorHeaders);
    this.status = res.statusCode;
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
    if (!this.responseFinished()) this.clientGone = true;
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
      service: route?.service.name,
      target: call?.target?.url,
      status: this.status,
      bytesIn: scan === undefined ? 0 : requestBodyBytes(scan, req.complete, sock.bytesRead - this.socketRead),
      bytesOut: sock.bytesWritten - this.socketWritten,
      durationMs: performance.now() - this.started,
      upstreamMs: call !== undefined && call.upstreamMs >= 0 ? call.upstreamMs : undefined,
      rejectedBy: this.rejectedBy,
      shadowLimited: this.ctx?.shadowLimited,
      error: this.errorCode,
      retries: call?.retries ?? 0,
      cache: undefined,
      userAgent: scan?.userAgent,
      aborted: !this.responseFinished(),
      trace: trace !== undefined && trace.sampled ? trace : undefined,
      tracer: this.tracer,
    };
  }
}

/** A plugin's fault is named as one (plugin-guard.ts); anything else is the gateway's. */
function faultCode(err: unknown): 'GW_POLICY_ERROR' | 'GW_INTERNAL' {
  return (err as { gatewayCode?: unknown } | null)?.gatewayCode === 'GW_POLICY_ERROR' ? 'GW_POLICY_ERROR' : 'GW_INTERNAL';
}
