// One request's way through the gateway — the whole lifecycle, readable top to bottom:
//
//   target (request-target.ts) → route (route-lookup.ts; again with the body read for `match.body`:
//     body-match.ts) → client identity → access policies → the request body settled (streamed;
//     read whole to replay; or given whole to requestBody policies: body-phases.ts) → the
//     upstream call (upstream-call.ts: admission, attempts, retries) → upstream request (headers,
//     upstreamRequest policies) → response head (response policies) → the body streamed (or held
//     and rewritten by responseBody policies) → log policies → one record observed
//
// What an exchange holds, its own answers (`respond`) and its end are in exchange-state.ts. Bodies
// stream both ways with backpressure and are read whole only where a route's configuration says.
// The exchange knows no policy by name: what policies tell it travels in typed fields of their
// context (identity, errorHeaders, shadowLimited) and declared capabilities (answersPreflight).
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { CompiledRoute } from './plan.js';
import type { ErrorCode } from '../errors.js';
import type { AccessVerdict, HeaderList, RespondVerdict, ServedResponse, ServeVerdict } from '../policies/types.js';
import { encodePathForUpstream } from './canonical-path.js';
import { normalizeHost } from '../config/host-pattern.js';
import { requestTrailers, resolveClient, scanHeaders, upstreamFields, withGatewayFields, type ScannedHeaders } from './forwarding.js';
import { removeHeader } from './header-list.js';
import { upstreamHeaders } from './upstream-headers.js';
import { requestTarget } from './request-target.js';
import { ExchangeState, faultCode } from './exchange-state.js';
import { hasBody, readForReplay, streamedBody } from './request-body.js';
import { UpstreamCall, type CallOwner } from './upstream-call.js';
import { trailerPairs } from './trailers.js';
import { httpsRedirect } from './https-redirect.js';
import { lookupRoute } from './route-lookup.js';
import { BodyView, prefixed, readForMatch } from './body-match.js';
import { forBodyPhases, HeldResponse, requestBodyPhase, rewritesFor } from './body-phases.js';
import { tapTrailers, upstreamResponsePhase } from './upstream-response.js';
import type { Answer } from './respond.js';
import { ERRORS } from '../errors.js';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:@+/=-]{1,200}$/;
export { REFUSED, type ExchangeHost } from './exchange-state.js';

export class Exchange extends ExchangeState implements CallOwner {
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

  /** Payload routing: up to `server.maxBodyForMatch` of the body is read, then routed again; the body is forwarded unchanged. */
  private readForMatch(): void {
    const contentType = this.req.headers['content-type'] ?? '';
    readForMatch(this.req, this.scan!, this.plane.limits, (read) =>
      this.step(() => {
        if (this.clientGone) return;
        if (read.whole !== undefined) {
          this.body = read.whole;
          this.bodyRead = read.whole.length;
        } else this.bodyPrefix = read.prefix;
        this.routeBy(new BodyView(read.whole, contentType));
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
    if ('serve' in v) return this.serve(v.serve);
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
    const call = (this.call = new UpstreamCall(this, this.route!, this.plane.log));
    const scan = this.scan!;
    if (this.route!.requestBody.length > 0) return this.readBodyForPolicies(call);
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
    call.noReplay(); // a streamed body cannot be sent twice
    call.admit();
  }

  /** The requestBody phase (body-phases.ts): the body read whole and given to its policies, then admitted. */
  private readBodyForPolicies(call: UpstreamCall): void {
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
    // A body that went through requestBody policies is sent with a length of its own.
    const viaPolicies = route.requestBody.length > 0;
    if (viaPolicies || route.responseBody.length > 0)
      forBodyPhases(scan.forward, viaPolicies ? this.body! : undefined, hasBody(scan), route.responseBody.length > 0);
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
      trailers: forwardedTrailers(this.req, this.plan.identityHeaders),
    });
  }

  /** The request body as it streams upstream (HTTP/2 counts it: http2/exchange.ts). */
  protected streamBody(scan: ScannedHeaders, maxBodyBytes: number): Readable {
    return streamedBody(this.bodySource(), scan, maxBodyBytes);
  }

  /** The client's body stream: the request, after what payload routing read of it, if anything. */
  protected bodySource(): Readable {
    return this.bodyPrefix === undefined ? this.req : prefixed(this.bodyPrefix, this.req);
  }

  /**
   * The service's response head: the upstreamResponse phase (taps; or another response in its
   * place, its body then dropped), then on to the client.
   */
  upstreamHead(upstreamStatus: number, rawHeaders: Buffer[] | string[], resume: () => void): boolean {
    const fields = upstreamFields(rawHeaders);
    const route = this.route!;
    if (route.upstreamResponse.length > 0) {
      try {
        const outcome = upstreamResponsePhase(
          route.upstreamResponse,
          this.context(),
          { status: upstreamStatus, headers: fields },
          this.plane.log,
        );
        this.taps = outcome.taps;
        if (outcome.serve !== undefined) {
          this.replacement = outcome.serve;
          this.resume = resume;
          return true; // read to its end (the connection stays usable), then served: upstreamEnd
        }
      } catch (err) {
        return this.headFailed(err);
      }
    }
    return this.head(upstreamStatus, withGatewayFields(fields, this.requestId), resume);
  }

  /**
   * The service could not answer (no healthy target, connection or timeout failures, circuit open,
   * overload): the upstreamResponse phase may serve a response in its place (a stale one).
   */
  upstreamFailed(answer: Answer): void {
    const route = this.route!;
    if (answer.kind === 'error' && route.upstreamResponse.length > 0) {
      const info = { status: answer.status ?? ERRORS[answer.code].status, headers: [], failed: answer.code };
      try {
        const outcome = upstreamResponsePhase(route.upstreamResponse, this.context(), info, this.plane.log);
        outcome.taps?.abort();
        if (outcome.serve !== undefined) return this.serve(outcome.serve);
      } catch (err) {
        return this.crashed(err);
      }
    }
    this.respond(answer);
  }

  /** A response a policy has, in the service's place: the response phases run on it, then it goes to the client. */
  protected serve(s: ServedResponse): void {
    this.replacement = undefined;
    this.taps = undefined;
    const res = this.res;
    // Answered before a body was read (a hit for a GET with a body): as respond() does.
    if (this.scan !== undefined && !this.req.complete && hasBody(this.scan)) res.shouldKeepAlive = false;
    const fields = upstreamFields(s.headers);
    // The body is whole: its length frames it (unless trailers follow, which need chunked framing).
    // 204 and 304 have none to frame.
    if (s.status !== 204 && s.status !== 304 && (s.trailers === undefined || s.trailers.length === 0)) {
      removeHeader(fields, 'content-length');
      fields.push('content-length', String(s.body.length));
    }
    if (!this.head(s.status, withGatewayFields(fields, this.requestId), noop)) return;
    if (s.body.length > 0) this.upstreamData(s.body);
    this.upstreamEnd(s.trailers);
  }

  /** The response head: server header, response policies, then it goes to the client. */
  private head(upstreamStatus: number, headers: HeaderList, resume: () => void): boolean {
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
      return this.headFailed(err);
    }
    this.resume = resume;
    return true;
  }

  /**
   * A response policy (or an invalid header it set) failed: the gateway's fault, not the target's.
   * Stop the upstream call and answer 500.
   */
  private headFailed(err: unknown): false {
    this.plane.log.error({ err, requestId: this.requestId, route: this.route!.name }, 'response phase failed');
    this.taps?.abort();
    this.taps = undefined;
    this.call?.cancel(err as Error);
    if (!this.res.headersSent) this.respond({ kind: 'error', code: faultCode(err) });
    return false;
  }

  upstreamData(chunk: Buffer): boolean {
    if (this.taps !== undefined) this.taps.data(chunk);
    if (this.replacement !== undefined) return true; // dropped: another response goes out at its end
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
    if (this.taps !== undefined) this.taps.end(tapTrailers(trailers));
    if (this.replacement !== undefined) return this.serve(this.replacement);
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
      refuse: (answer, cancel) => {
        if (cancel) this.call?.cancel(new Error('response body over the rewrite limit'));
        this.respond(answer);
      },
      crashed: (err) => this.crashed(err),
      gone: () => this.clientGone,
    });
    return true;
  }

  upstreamBroke(code: ErrorCode): void {
    this.taps?.abort();
    this.errorCode = code;
    this.res.destroy();
  }
}

function noop(): void {
  /* a served response is in memory: nothing to resume */
}

/** The request's trailers as an upstream may get them (forwarding.ts), read when the body has ended. */
function forwardedTrailers(req: { readonly rawTrailers: string[] }, claimHeaders: readonly string[]): { readonly rawTrailers: string[] } {
  return {
    get rawTrailers() {
      return requestTrailers(req.rawTrailers, claimHeaders);
    },
  };
}
