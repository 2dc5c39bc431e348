// One request's way through the gateway — the whole lifecycle, readable top to bottom:
//
//   target (request-target.ts) → route (route-lookup.ts; again with the body read for `match.body`:
//     body-match.ts) → client identity → access policies (which may answer, or serve a whole
//     response: a cache hit) → the request body settled (streamed; read whole to replay; or given
//     whole to requestBody policies: body-phases.ts) → the upstream call (upstream-call.ts:
//     admission, attempts, retries) — or, on a route that answers by itself (a composite), its
//     handler (route-handler.ts), whose answer is served like a cache hit → upstream request (headers, upstreamRequest policies) →
//     [exchange-response.ts] response head (upstreamResponse policies: taps, or a response in its
//     place; then response policies) → the body streamed (or held and rewritten by responseBody
//     policies) → log policies → one record observed
//
// What an exchange holds, its own answers (`respond`) and its end are in exchange-state.ts. Bodies
// stream both ways with backpressure and are read whole only where a route's configuration says.
// The exchange knows no policy by name: what policies tell it travels in typed fields of their
// context (identity, errorHeaders, shadowLimited) and declared capabilities (answersPreflight).
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { CompiledRoute } from './plan.js';
import type { AccessVerdict, RequestContext, RespondVerdict, ServeVerdict } from '../policies/types.js';
import type { UpstreamRequest } from './call-owner.js';
import type { HeaderSource } from './upstream-headers.js';
import { BackgroundCall } from './background-call.js';
import { encodePathForUpstream, isUpstreamTarget } from './canonical-path.js';
import { normalizeHost } from '../config/host-pattern.js';
import { requestTrailers, resolveClient, scanHeaders, type ScannedHeaders } from './forwarding.js';
import { upstreamHeaders } from './upstream-headers.js';
import { requestTarget } from './request-target.js';
import { ExchangeResponse } from './exchange-response.js';
import { hasBody, readForReplay, streamedBody } from './request-body.js';
import { readGrpcForReplay } from './grpc-replay.js';
import { callRoute, UpstreamCall, type CallOwner } from './upstream-call.js';
import { httpsRedirect } from './https-redirect.js';
import { lookupRoute } from './route-lookup.js';
import { BodyView, prefixed, readForMatch } from './body-match.js';
import { forBodyPhases, readsBody, requestBodyPhase } from './body-phases.js';
import { handlerAnswer, routeCall } from './route-handler.js';
import type { RouteHandler } from '../routes/types.js';
import { Canceller } from '../routes/cancel.js';
import { isInternalSocket } from './internal-dispatch.js';
import { formatTraceparent } from '../observability/tracing/trace-context.js';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:@+/=-]{1,200}$/;
export { REFUSED, type ExchangeHost } from './exchange-state.js';

export class Exchange extends ExchangeResponse implements CallOwner {
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
    this.path = target.path;
    this.query = target.query;
    if (this.listenerRedirect !== undefined) {
      // Before routing: a listener that only sends clients to HTTPS knows no routes.
      this.client = resolveClient(req.socket.remoteAddress, scan, plan.trustedProxies);
      const to = httpsRedirect(this.listenerRedirect, req, scan, this.client);
      if (to !== undefined) return this.respond(to);
    }

    this.routeBy(undefined);
  }

  /** Route (again with the body read, for `match.body`: body-match.ts), then the access phase. */
  private routeBy(body: BodyView | undefined): void {
    const { req, plan } = this;
    const scan = this.scan!;
    const found = lookupRoute(plan, req, normalizeHost(scan.host), this.path, this.query, body);
    if ('kind' in found) return this.respond(found);
    if ('needsBody' in found) return this.readForMatch();
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

  /** Keeps what a bounded read took: the whole body, or its first chunks (the rest streams after them). */
  private keepRead(read: { whole?: Buffer | undefined; prefix?: Buffer[] | undefined }): void {
    if (read.whole !== undefined) {
      this.body = read.whole;
      this.bodyRead = read.whole.length;
    } else this.bodyPrefix = read.prefix;
  }

  /** Payload routing: up to `server.maxBodyForMatch` of the body is read, then routed again; the body is forwarded unchanged. */
  private readForMatch(): void {
    const contentType = this.req.headers['content-type'] ?? '';
    readForMatch(this.req, this.scan!, this.plane.limits, (read) =>
      this.step(() => {
        if (this.clientGone) return;
        this.keepRead(read);
        this.routeBy(new BodyView(read.whole, contentType, this.req.method, this.query));
      }),
    );
  }

  /** Access policies (may be asynchronous: JWKS, introspection, shared counters). */
  protected runAccess(route: CompiledRoute): void {
    const access = route.access;
    for (let i = 0; i < access.length; i++) {
      const v = access[i]!.access!(this.context());
      if (v !== undefined && typeof (v as Promise<AccessVerdict>).then === 'function') {
        void this.continueAccessAsync(v as Promise<AccessVerdict>, i);
        return;
      }
      if (v !== undefined) return this.answerAccess(v as Exclude<AccessVerdict, undefined | Promise<AccessVerdict>>, route.accessTypes[i]);
    }
    this.accessPassed();
  }

  /** An access policy answered: with its verdict, or with a whole response (a cache hit) that the response phases run on. */
  private answerAccess(v: RespondVerdict | ServeVerdict, by: string | undefined): void {
    if ('serve' in v) {
      this.serve(v.serve);
      if (v.refresh !== undefined) this.refreshInBackground(v.refresh);
      return;
    }
    this.respond({ kind: 'verdict', verdict: v, by });
  }

  private async continueAccessAsync(pending: Promise<AccessVerdict>, index: number): Promise<void> {
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
      if (v !== undefined) this.answerAccess(v, this.route!.accessTypes[by]);
      else this.accessPassed();
    } catch (err) {
      this.crashed(err); // logged; 500 (GW_POLICY_ERROR for a plugin's fault) and the connection closed
    }
  }

  /** After the access policies: the body is settled (request-body.ts), then the upstream call admitted. */
  protected accessPassed(): void {
    if (this.preflightAllow !== undefined)
      return this.respond({ kind: 'error', code: 'GW_METHOD_NOT_ALLOWED', headers: { allow: this.preflightAllow } });
    const route = this.route!;
    // A route that answers by itself (route-handler.ts): its body is read whole, as for requestBody policies.
    if (route.handler !== undefined) return this.readBodyForPolicies(() => this.runHandler(route, route.handler!));
    const call = (this.call = new UpstreamCall(this, callRoute(route), this.plane.log));
    const scan = this.scan!;
    if (route.requestBody.length > 0 && readsBody(route.requestBody, this.context())) return this.readBodyForPolicies(() => call.admit());
    if (this.body !== null || !hasBody(scan)) return call.admit(); // read whole already (payload routing), or none
    // Payload routing leaves read chunks (bodyPrefix) only of a body without Content-Length, which
    // readForReplay never reads whole; the rest of such a body must stream after them in any case.
    const replayLimit = this.bodyPrefix === undefined ? call.replayableBodyLimit : -1;
    const whole = readForReplay(this.req, scan, this.plane.limits.bodyIdleTimeout, replayLimit, (body) =>
      this.step(() => {
        if (this.clientGone) return;
        this.body = body;
        call.admit();
      }),
    );
    if (whole) return;
    // A gRPC call has no Content-Length: one whose method may be retried is read whole up to the limit (grpc-replay.ts).
    if (call.grpcRetry && replayLimit >= 0) return this.readGrpcRequest(call, Math.min(replayLimit, route.maxBodyBytes));
    call.noReplay(); // a streamed body cannot be sent twice
    call.admit();
  }

  private readGrpcRequest(call: UpstreamCall, limit: number): void {
    readGrpcForReplay(this.req, this.scan!, limit, (read) =>
      this.step(() => {
        if (this.clientGone) return;
        this.keepRead(read);
        if (!read.replayable) call.noReplay();
        call.admit();
      }),
    );
  }

  /** The requestBody phase (body-phases.ts): the body read whole and given to its policies, then `next`. */
  private readBodyForPolicies(next: () => void): void {
    const route = this.route!;
    const read = this.body !== null ? { whole: this.body } : { prefix: this.bodyPrefix };
    requestBodyPhase(this.req, this.scan!, route, this.plane.limits.bodyIdleTimeout, read, () => this.context(), {
      gone: () => this.clientGone,
      step: (fn) => this.step(fn),
      refuse: (a) => this.respond(a),
      crashed: (err) => this.crashed(err),
      passed: (body, read) => {
        this.body = body;
        this.bodyRead = read;
        next();
      },
    });
  }

  /** A route that answers by itself (a composite): its handler's answer is served as a service's would be. */
  private runHandler(route: CompiledRoute, handler: RouteHandler): void {
    const gone = new Canceller();
    this.res.once('close', () => {
      if (!this.res.writableFinished) gone.cancel();
    });
    const scan = this.scan!;
    const https = (this.req.socket as { encrypted?: boolean }).encrypted === true;
    const ctx = this.context();
    const internal = isInternalSocket(this.req.socket);
    const requestId = this.requestId;
    const call = routeCall(
      {
        routeName: route.name,
        requestId: this.requestId,
        log: this.plane.log,
        trace: this.trace,
        tracer: this.tracer,
        services: this.plan.services,
        context: () => ctx,
        // Only the request's own fields and what the gateway adds: no client field goes on unless the route's config puts it there.
        // The upstreamRequest policies get a context of the call's own: an edit a policy makes to it
        // (a request-transformer's query edits set ctx.query) must not change what the next
        // call's templates read.
        headers: (own) => {
          const callCtx: RequestContext = { ...ctx };
          return upstreamHeaders(
            { requestId, context: () => callCtx },
            { ...scan, forward: own },
            this.client!,
            https ? 'https' : 'http',
            this.plan.identityHeaders,
            ctx.identity,
            this.trace !== undefined,
            route.upstreamRequest,
          );
        },
        signal: gone,
      },
      this.body,
      this.plane.dispatchInternal === undefined
        ? undefined
        : (r) => {
            const { remoteAddress, localAddress, localPort } = this.req.socket;
            return this.plane.dispatchInternal!(r, {
              remoteAddress: remoteAddress ?? '',
              localAddress,
              localPort,
              encrypted: https,
              internal,
            });
          },
      internal,
      this.trace !== undefined && this.trace.sampled ? formatTraceparent(this.trace.traceId, this.trace.spanId, true) : undefined,
    );
    this.calls = call.calls;
    handler.handle(call).then(
      (answer) =>
        this.step(() => {
          if (this.clientGone) return;
          const a = handlerAnswer(answer, route.kind);
          if ('serve' in a) this.serve(a.serve);
          else this.respond(a);
        }),
      (err: unknown) => this.crashed(err),
    );
  }

  /** Admitted upstream: builds the upstream request once; each attempt only sets its Host and traceparent. */
  admitted(): void {
    const request = this.upstreamRequest(this, this.ctx);
    const target = this.ctx?.upstreamTarget; // set by the access, requestBody or upstreamRequest phase
    if (target !== undefined && !isUpstreamTarget(target, this.plane.limits.allowSemicolonInPath)) {
      this.plane.log.error(
        { requestId: this.requestId, route: this.route!.name, target },
        'upstreamTarget is not a method and a canonical path',
      );
      return this.respond({ kind: 'error', code: 'GW_POLICY_ERROR' });
    }
    this.call!.send(request);
  }

  /** The request as the service gets it: headers (upstreamRequest policies with `source`'s context), path, body. Built once. */
  private upstreamRequest(source: HeaderSource, ctx: RequestContext | undefined): UpstreamRequest {
    const route = this.route!;
    const scan = this.scan!;
    const https = (this.req.socket as { encrypted?: boolean }).encrypted === true;
    // Before the slots below are placed: the body phases' fields (body-phases.ts).
    // A body that went through requestBody policies is sent with a length of its own.
    // A WebSocket handshake skips the body phases (it has no body): its `body` is null.
    const viaPolicies = route.requestBody.length > 0 && this.body !== null;
    if (viaPolicies || route.responseBody.length > 0)
      forBodyPhases(scan.forward, viaPolicies ? this.body! : undefined, hasBody(scan), route.responseBody.length > 0);
    const up = upstreamHeaders(
      source,
      scan,
      this.client!,
      https ? 'https' : 'http',
      this.plan.identityHeaders,
      ctx?.identity,
      this.trace !== undefined,
      route.upstreamRequest,
    );
    // A policy that translates the request into another protocol names where it goes (grpc-transcode).
    const target = ctx?.upstreamTarget;
    const rewritten = target !== undefined ? target.path : route.rewrite ? route.rewrite(this.path, this.params, this.rest) : this.path;
    return {
      method: target !== undefined ? target.method : this.req.method!,
      headers: up.headers,
      hostIndex: up.hostIndex,
      host: route.preserveHost ? scan.host : undefined,
      traceIndex: up.traceIndex,
      path: encodePathForUpstream(rewritten, this.plane.limits.allowSemicolonInPath),
      query: ctx !== undefined ? ctx.query : this.query, // a policy may have hidden a credential in it
      body: this.upstreamBody(scan, route),
      trailers: forwardedTrailers(this.req, this.plan.identityHeaders),
    };
  }

  /**
   * What goes upstream as the body. A request that came without one goes without one, even when a
   * phase read it (empty) whole: undici would write an empty body as a second chunk (measured:
   * +7 µs a request, the extra write, for a GET on a route with a requestBody policy).
   */
  private upstreamBody(scan: ScannedHeaders, route: CompiledRoute): Buffer | Readable | null {
    const had = hasBody(scan);
    if (this.body !== null) return this.body.length > 0 || had ? this.body : null;
    return had ? this.streamBody(scan, route.maxBodyBytes) : null;
  }

  /**
   * After a served response that asked for it (a cache's stale-while-revalidate): the same GET to
   * the service in the background, with a context of its own (fresh `locals`) that `prepare` sets
   * up; only the upstreamResponse phase sees the answer.
   */
  private refreshInBackground(prepare: (ctx: RequestContext) => void): void {
    if (this.req.method !== 'GET' || this.scan === undefined || this.body !== null || hasBody(this.scan)) return;
    const ctx: RequestContext = { ...this.context(), locals: new Map(), errorHeaders: undefined };
    const route = this.route!;
    try {
      prepare(ctx);
    } catch (err) {
      this.plane.log.error({ err, requestId: this.requestId, route: route.name }, 'background refresh failed');
      return;
    }
    const source = { requestId: this.requestId, context: () => ctx };
    new BackgroundCall(route, ctx, this.plane.log, () => this.upstreamRequest(source, ctx)).start();
  }

  /** The request body as it streams upstream (HTTP/2 counts it: http2/exchange.ts). */
  protected streamBody(scan: ScannedHeaders, maxBodyBytes: number): Readable {
    return streamedBody(this.bodySource(), scan, maxBodyBytes);
  }

  /** The client's body stream: the request, after what payload routing read of it, if anything. */
  protected bodySource(): Readable {
    return this.bodyPrefix === undefined ? this.req : prefixed(this.bodyPrefix, this.req);
  }
}

/** The request's trailers as an upstream may get them (forwarding.ts), read when the body has ended. */
function forwardedTrailers(req: { readonly rawTrailers: string[] }, claimHeaders: readonly string[]): { readonly rawTrailers: string[] } {
  return {
    get rawTrailers() {
      return requestTrailers(req.rawTrailers, claimHeaders);
    },
  };
}
