// One request's way through the gateway — the whole lifecycle, readable top to bottom:
//
//   target → canonical path → route → client identity → access policies
//     → upstream request (headers, upstreamRequest policies) → dispatch
//     → response headers (response policies) → streamed body → log policies + access log
//
// An Exchange is also the undici dispatch handler for its upstream call, so a request costs one
// object here. Bodies stream both ways with backpressure and are never buffered.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { CompiledRoute, Plan } from '../config/compile.js';
import type { ErrorCode } from '../errors.js';
import type { RequestContext, Verdict, HeaderList } from '../policies/types.js';
import type { TargetRuntime } from '../upstream/service.js';
import type { Admission, CircuitBreaker } from '../upstream/circuit-breaker.js';
import type { AdmissionControl } from '../upstream/admission.js';
import { countsAsFailure, failureKind, type AttemptFailure } from '../upstream/attempt-result.js';
import { canonicalizePath, encodePathForUpstream } from './canonical-path.js';
import { normalizeHost } from './host-pattern.js';
import { addForwardingHeaders, resolveClient, responseHeaders, scanHeaders, type ClientInfo, type ScannedHeaders } from './forwarding.js';
import { sendError, sendVerdict } from './respond.js';
import type { DataPlane } from './dataplane.js';
import { findHeader, removeHeader } from './header-list.js';
import type { RequestTrace, Tracer } from '../observability/tracing/tracer.js';
import { BodyLimit } from '../edge/body-limit.js';
import { isValidHostHeader } from '../edge/host-syntax.js';
import { transferEncodingFault } from '../edge/transfer-encoding.js';
import { addIdentityHeaders } from '../identity/identity-headers.js';
import { SHADOW_LIMITED } from '../policies/rate-limit/shadow.js';
import { ERROR_HEADERS } from '../policies/error-headers.js';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:@+/=-]{1,200}$/;
/** Set on a socket whose request the gateway refused as malformed: nothing after it is served. */
export const REFUSED = Symbol('gatehouse.refused');

export class Exchange implements Dispatcher.DispatchHandler {
  requestId = '';
  path = '';
  query = '';
  route: CompiledRoute | undefined;
  target: TargetRuntime | undefined;
  client: ClientInfo | undefined;
  status = 0;
  errorCode: ErrorCode | undefined;
  started = 0;
  upstreamStarted = 0;
  upstreamMs = -1;
  /** Observability (issue 7): the policy type that answered, the trace, wire counters. */
  rejectedBy: string | undefined;
  trace: RequestTrace | undefined;
  /** The tracer the trace started with (a reload may replace or remove the plane's). */
  tracer: Tracer | undefined;
  socketRead = 0;
  socketWritten = 0;
  /** The connection (req.socket is gone by the time a finished request is observed). */
  socket: import('node:net').Socket | undefined;
  private traceIndex = -1;
  private attemptStatus: number | undefined;
  private scan!: ScannedHeaders;
  private params: Record<string, string> = {};
  private rest = '';
  private ctx: RequestContext | undefined;
  private abortUpstream: ((err: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private clientGone = false;
  /** A CORS preflight routed by its requested method: `Allow` of the 405 it gets if no policy answers. */
  private preflightAllow: string | undefined;
  private done = false;
  /** Upstream tries made (1 + retries). */
  attempt = 0;
  retries = 0;
  private tried: Set<TargetRuntime> | undefined;
  private attemptTarget: TargetRuntime | undefined;
  private attemptStarted = 0;
  private retryable = false;
  private discarding = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError: Error | undefined;
  private lastStatus: number | undefined;
  private body: Buffer | Readable | null = null;
  private hostIndex = 0;
  private upstreamPath = '';
  private upstreamQuery = '';
  private breaker: CircuitBreaker | undefined;
  private breakerAdmission: Admission | undefined;
  private breakerCycle = 0;
  private admission: AdmissionControl | undefined;
  private streamBody = false;
  /** The gateway answered while the upstream call was still running (a response policy failed). */
  private answeredEarly = false;
  private slotHeld = false;
  private cancelQueued: (() => void) | undefined;

  constructor(
    readonly dp: DataPlane,
    readonly plan: Plan,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  run(): void {
    const { req, res, plan } = this;
    if (this.dp.timed) {
      this.started = performance.now();
      const sock = (this.socket = req.socket);
      this.socketRead = sock.bytesRead;
      this.socketWritten = sock.bytesWritten;
    }
    res.once('close', () => this.finish());
    const scan = (this.scan = scanHeaders(req.rawHeaders));
    const tracer = this.dp.tracer;
    if (tracer !== undefined && this.socket !== undefined) {
      this.tracer = tracer;
      // Several traceparent fields make it invalid (W3C Trace Context §3.2): a new trace starts.
      this.trace = tracer.start(scan.traceparentCount === 1 ? scan.traceparent : undefined, scan.tracestate);
    }
    this.requestId = scan.requestId !== undefined && VALID_REQUEST_ID.test(scan.requestId) ? scan.requestId : randomUUID();
    if (this.dp.draining) res.shouldKeepAlive = false;
    const framing = scan.transferEncoding === undefined ? undefined : transferEncodingFault(scan.transferEncoding, req.httpVersion);
    if (framing !== undefined) return this.refuse(framing.code, framing.message);

    // Target and canonical path.
    if (scan.hostCount > 1) return this.refuse('GW_BAD_REQUEST', 'Duplicate Host header.');
    // HTTP/1.1 requires Host (RFC 9112 §3.2); refused here so nothing pipelined behind it runs.
    if (scan.hostCount === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) {
      return this.refuse('GW_BAD_REQUEST', 'Missing Host header.');
    }
    if (scan.host !== undefined && !isValidHostHeader(scan.host)) return this.refuse('GW_BAD_REQUEST', 'The Host header is not a valid host.');
    const limits = this.dp.limits;
    // Node keeps at most maxHeaderCount + 1 fields (server-limits.ts): more means over the limit.
    if (req.rawHeaders.length > limits.maxHeaderCount * 2) return this.refuse('GW_BAD_REQUEST', 'Too many header fields.', 431);
    let url = req.url ?? '';
    if (url.length > limits.maxUrlLength) return this.refuse('GW_BAD_REQUEST', 'The request target is too long.', 414);
    if (url.charCodeAt(0) !== 47 /* / */) {
      const origin = absoluteFormOrigin(url, scan.host);
      if (origin === undefined) return this.refuse('GW_BAD_REQUEST', 'The request target is not acceptable.');
      url = url.slice(origin.length) || '/';
    }
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    this.query = q === -1 ? '' : url.slice(q + 1);
    const path = canonicalizePath(rawPath, limits.allowSemicolonInPath);
    if (path === undefined) return this.refuse('GW_BAD_PATH');
    this.path = path;

    // Route.
    let found = plan.router.find(req.method!, normalizeHost(scan.host), path, req, this.query);
    if (found === undefined) return this.fail('GW_ROUTE_NOT_FOUND');
    if ('allow' in found) {
      // A CORS preflight asks about another method: route it by that method so the route's cors
      // policy can answer it. It is never forwarded (see preflightAllow).
      const asked = req.method === 'OPTIONS' ? req.headers['access-control-request-method'] : undefined;
      const pre = asked ? plan.router.find(asked.toUpperCase(), normalizeHost(scan.host), path, req, this.query) : undefined;
      if (pre === undefined || 'allow' in pre || pre.match.entry.route.access.length === 0) {
        return this.fail('GW_METHOD_NOT_ALLOWED', { headers: { allow: found.allow.join(', ') } });
      }
      this.preflightAllow = found.allow.join(', ');
      found = pre;
    }
    const route = (this.route = found.match.entry.route);
    this.params = found.match.params;
    this.rest = found.match.rest;
    this.client = resolveClient(req.socket.remoteAddress, scan, plan.trustedProxies);

    // Access policies (may be asynchronous: JWKS, introspection, shared counters).
    const access = route.access;
    for (let i = 0; i < access.length; i++) {
      const v = access[i]!.access!(this.context());
      if (v !== undefined && typeof (v as Promise<Verdict>).then === 'function') {
        this.continueAccessAsync(v as Promise<Verdict>, i);
        return;
      }
      if (v !== undefined) return this.answer(v as Exclude<Verdict, undefined | Promise<Verdict>>, route.accessTypes[i]);
    }
    if (this.preflightAllow !== undefined) return this.fail('GW_METHOD_NOT_ALLOWED', { headers: { allow: this.preflightAllow } });
    this.forward();
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
      if (v !== undefined) this.answer(v, this.route!.accessTypes[by]);
      else if (this.preflightAllow !== undefined) this.fail('GW_METHOD_NOT_ALLOWED', { headers: { allow: this.preflightAllow } });
      else this.forward();
    } catch (err) {
      this.crashed(err); // logged; 500 (GW_POLICY_ERROR for a plugin's fault) and the connection closed
    }
  }

  /** The limit a shadow-mode rate-limit policy would have refused this request with (access log). */
  get shadowLimited(): string | undefined {
    return this.ctx?.locals.get(SHADOW_LIMITED) as string | undefined;
  }

  /** The context policies see; built only for routes that have policies. */
  context(): RequestContext {
    return (this.ctx ??= {
      req: this.req,
      requestId: this.requestId,
      method: this.req.method!,
      host: normalizeHost(this.scan.host),
      path: this.path,
      query: this.query,
      clientIp: this.client?.ip ?? '',
      routeName: this.route?.name ?? '',
      serviceName: this.route?.service.name ?? '',
      params: this.params,
      identity: undefined,
      locals: new Map(),
    });
  }

  /** The Host header as received. */
  get host(): string | undefined {
    return this.scan?.host;
  }

  /** The caller's consumer id (or username), once an authentication policy has set the identity. */
  /** The client's User-Agent (from the one header scan). */
  userAgent(): string | undefined {
    return this.scan?.userAgent;
  }

  consumer(): string | undefined {
    const id = this.ctx?.identity;
    return id === undefined ? undefined : id.consumerId ?? id.username;
  }

  /**
   * Request body bytes: the Content-Length of a body read whole; for a chunked one, what the
   * socket read while this request ran (`socketDelta`, framing included).
   */
  bodyBytesIn(socketDelta: number): number {
    const scan = this.scan;
    if (scan === undefined || (scan.contentLength === undefined && scan.transferEncoding === undefined)) return 0;
    if (scan.transferEncoding === undefined) return this.req.complete ? Number(scan.contentLength) || 0 : Math.max(0, socketDelta);
    return Math.max(0, socketDelta);
  }

  /**
   * After the access policies. The body is settled first — a small one is read whole when it may
   * have to be replayed — so that a slow uploader never holds a concurrency slot or the breaker's
   * half-open probe; then the request is admitted.
   */
  private forward(): void {
    const route = this.route!;
    const scan = this.scan;
    const hasBody = scan.transferEncoding !== undefined || (scan.contentLength !== undefined && scan.contentLength !== '0');
    const retry = route.service.retry;
    const method = this.req.method!;
    this.retryable = retry !== undefined && (retry.methods.has(method) || route.retryMethods.has(method));
    if (!hasBody) return this.admit();
    const idle = this.dp.limits.bodyIdleTimeout;
    if (idle > 0) {
      // Armed only while the body streams in: node destroys the socket when it fires.
      this.req.socket.setTimeout(idle);
      this.req.once('end', disarmIdleTimeout);
    }
    if (this.retryable && scan.transferEncoding === undefined && Number(scan.contentLength) <= retry!.bodyLimit) {
      const chunks: Buffer[] = [];
      this.req.on('data', (c: Buffer) => chunks.push(c));
      this.req.once('end', () => this.step(() => {
        if (this.clientGone) return;
        this.body = Buffer.concat(chunks);
        this.admit();
      }));
      return;
    }
    this.retryable = false; // a streamed body cannot be sent twice
    this.streamBody = true;
    this.admit();
  }

  /** Upstream admission: the circuit breaker, then the service's concurrency limit and queue. */
  private admit(): void {
    const state = this.route!.service.state;
    // Kept on the exchange: a reload may replace or drop the service's breaker or limit while
    // this request runs, and its outcome and slot belong to the ones that admitted it.
    const breaker = (this.breaker = state.breaker);
    if (breaker) {
      const a = breaker.admit();
      if (a === 'reject') return this.circuitOpen(breaker);
      this.breakerAdmission = a;
      this.breakerCycle = breaker.cycle;
    }
    const admission = (this.admission = state.admission);
    if (admission) {
      const r = admission.acquire();
      if (r === false) return this.overloaded();
      if (r !== true) {
        this.cancelQueued = r.cancel;
        r.wait.then((ok) => this.step(() => {
          this.cancelQueued = undefined;
          if (ok) this.slotHeld = true;
          if (this.clientGone) return this.releaseSlot();
          if (ok) this.prepare();
          else this.overloaded();
        }));
        return;
      }
      this.slotHeld = true;
    }
    this.prepare();
  }

  /** Builds the upstream request once; each attempt only sets its target's Host. */
  private prepare(): void {
    const route = this.route!;
    const headers = this.scan.forward;
    addForwardingHeaders(headers, this.scan, this.client!, (this.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http', this.requestId);
    const ctx = this.ctx;
    const claimHeaders = this.plan.identityHeaders;
    for (let i = 0; i < claimHeaders.length; i++) removeHeader(headers, claimHeaders[i]!);
    if (ctx?.identity !== undefined) addIdentityHeaders(headers, ctx.identity);
    // Tracing off: the client's traceparent (held back by the scan) goes on as received.
    if (this.trace === undefined && this.scan.traceparent !== undefined) headers.push('traceparent', this.scan.traceparent);
    const up = route.upstreamRequest;
    for (let i = 0; i < up.length; i++) up[i]!.upstreamRequest!(this.context(), headers);
    if (this.trace !== undefined) {
      // Our client span becomes the upstream's parent, set per attempt (whatever a policy set).
      if (up.length > 0) removeHeader(headers, 'traceparent');
      this.traceIndex = headers.length + 1;
      headers.push('traceparent', '');
    }
    // Host goes last, once nothing else will move the list: a policy that set one keeps it.
    if (up.length > 0 && findHeader(headers, 'host') !== undefined) this.hostIndex = -1;
    else {
      headers.push('host', '');
      this.hostIndex = headers.length - 1;
    }
    const rewritten = route.rewrite ? route.rewrite(this.path, this.params, this.rest) : this.path;
    this.upstreamPath = encodePathForUpstream(rewritten, this.dp.limits.allowSemicolonInPath);
    this.upstreamQuery = ctx !== undefined ? ctx.query : this.query; // a policy may have hidden a credential in it
    if (this.streamBody) {
      // A Content-Length body was checked against the limit up front (request-size-limit); a
      // chunked one is counted as it streams.
      const chunked = this.scan.transferEncoding !== undefined;
      this.body = chunked && route.maxBodyBytes !== Infinity ? this.req.pipe(new BodyLimit(route.maxBodyBytes)) : this.req;
    }
    route.service.state.budget?.recordRequest();
    this.attemptUpstream();
  }

  private attemptUpstream(): void {
    this.retryTimer = undefined;
    const service = this.route!.service;
    const target = service.select(service.hashKey?.(this.context()), this.tried);
    if (target === undefined) {
      if (this.attempt === 0) {
        this.breakerOutcome(undefined);
        return this.fail('GW_NO_HEALTHY_TARGET', { headers: { 'retry-after': String(service.state.retryAfterSeconds()) } });
      }
      return this.upstreamFailed(this.lastError!);
    }
    if (this.attempt > 0) (this.tried ??= new Set()).add(this.target!);
    this.attempt++;
    this.target = target;
    const headers = this.scan.forward;
    if (this.hostIndex >= 0) headers[this.hostIndex] = this.route!.preserveHost && this.scan.host !== undefined ? this.scan.host : target.host;
    if (this.trace !== undefined) {
      this.attemptStatus = undefined;
      headers[this.traceIndex] = this.tracer!.startAttempt(this.trace);
    }
    const path = target.basePath + this.upstreamPath;
    service.onStart(target);
    this.attemptTarget = target;
    this.attemptStarted = performance.now();
    if (this.dp.timed && this.attempt === 1) this.upstreamStarted = this.attemptStarted;
    target.dispatcher.dispatch(
      {
        origin: target.origin,
        method: this.req.method!,
        path: this.upstreamQuery ? `${path}?${this.upstreamQuery}` : path,
        headers,
        body: this.body,
        headersTimeout: this.retryable ? service.retry!.perTryTimeoutMs : service.timeouts.response,
        bodyTimeout: service.timeouts.idle,
      },
      this,
    );
  }

  /** The attempt in flight has ended (answered, failed or abandoned): balancer bookkeeping. */
  private endAttempt(): void {
    const t = this.attemptTarget;
    if (t === undefined) return;
    this.attemptTarget = undefined;
    this.route!.service.onEnd(t, performance.now() - this.attemptStarted);
  }

  /** May the request be tried again after this failure? Takes a retry from the budget if so. */
  private mayRetry(status: number | undefined, kind: AttemptFailure | 'protocol' | undefined): boolean {
    if (!this.retryable || this.clientGone) return false;
    const retry = this.route!.service.retry!;
    if (this.attempt >= retry.attempts) return false;
    const wanted = status !== undefined ? retry.onStatus.has(status) : kind === 'connect-error' ? retry.onConnectError : kind === 'timeout' && retry.onTimeout;
    if (!wanted) return false;
    return this.route!.service.state.budget?.tryRetry() ?? true;
  }

  private scheduleRetry(): void {
    const retry = this.route!.service.retry!;
    this.retries++;
    // Full jitter: a random wait up to the exponential step, so retries of many clients spread out.
    const cap = Math.min(retry.maxMs, retry.baseMs * 2 ** (this.attempt - 1));
    this.retryTimer = setTimeout(() => this.step(() => this.attemptUpstream()), Math.random() * cap);
  }

  /** Passive health for the attempt's target. */
  private recordHealth(status: number | undefined, kind: AttemptFailure | 'protocol' | undefined, reason: string): void {
    const service = this.route!.service;
    const passive = service.state.passive;
    if (passive) service.state.recordPassive(this.target!.health, countsAsFailure(passive.failOn, status, kind), reason);
  }

  /** The request's final upstream outcome, for the circuit breaker (once per request). */
  private breakerOutcome(failed: boolean | undefined): void {
    const a = this.breakerAdmission;
    if (a === undefined) return;
    this.breakerAdmission = undefined;
    const breaker = this.breaker!;
    if (failed === undefined) {
      if (a === 'probe') breaker.cancelProbe(this.breakerCycle);
    } else breaker.record(failed, a, this.breakerCycle);
  }

  // ---- undici dispatch handler (the upstream call) ----

  onConnect(abort: (err?: Error) => void): void {
    if (this.clientGone) abort(new Error('client went away'));
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[], resume: () => void): boolean {
    if (statusCode < 200) return true; // interim responses are not relayed yet
    this.attemptStatus = statusCode;
    this.recordHealth(statusCode, undefined, `status ${statusCode}`);
    if (this.retryable && this.mayRetry(statusCode, undefined)) {
      // Read and drop this answer (the connection stays reusable), then try again.
      this.discarding = true;
      this.lastError = undefined;
      this.lastStatus = statusCode;
      return true;
    }
    if (this.breakerAdmission !== undefined) this.breakerOutcome(countsAsFailure(this.route!.service.state.breakerFailOn, statusCode, undefined));
    if (this.dp.timed) this.upstreamMs = performance.now() - this.upstreamStarted;
    this.resumeUpstream = resume;
    const headers = responseHeaders(rawHeaders, this.requestId);
    const serverHeader = this.dp.limits.serverHeader;
    if (serverHeader !== undefined) {
      removeHeader(headers, 'server');
      headers.push('server', serverHeader);
    }
    const route = this.route!;
    let status = statusCode;
    const res = this.res;
    try {
      if (route.response.length) {
        const info = { status, headers };
        for (const p of route.response) p.response!(this.context(), info);
        status = info.status;
      }
      this.status = status;
      this.closeIfDraining();
      res.writeHead(status, headers as unknown as HeaderList);
    } catch (err) {
      // A response policy (or an invalid header it set) failed: the gateway's fault, not the
      // target's. Stop the upstream call and answer 500.
      this.dp.log.error({ err, requestId: this.requestId, route: route.name }, 'response phase failed');
      this.answeredEarly = true;
      this.abortUpstream?.(err as Error);
      if (!res.headersSent) this.fail('GW_INTERNAL');
      return false;
    }
    res.on('drain', () => this.resumeUpstream!());
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.discarding) return true;
    return this.res.write(chunk);
  }

  onComplete(): void {
    this.abortUpstream = undefined;
    if (this.trace !== undefined) this.traceAttempt(undefined);
    this.endAttempt();
    if (this.discarding) {
      this.discarding = false;
      if (!this.clientGone) this.scheduleRetry();
      return;
    }
    if (!this.req.complete) {
      // The upstream answered before the client's body was all here: undici drops the upstream
      // connection and the rest of the body with it, so this client connection is stuck
      // mid-request and can never carry another one. Close it once the response is out.
      const socket = this.req.socket;
      this.res.once('finish', () => socket?.destroySoon());
    }
    this.res.end();
  }

  onError(err: Error): void {
    this.abortUpstream = undefined;
    if (this.trace !== undefined) this.traceAttempt(err);
    this.endAttempt();
    if (this.clientGone || this.answeredEarly) return;
    const res = this.res;
    const kind = failureKind(err);
    if (res.headersSent) {
      // Mid-body failure: the client must not mistake a truncated body for a whole one.
      this.recordHealth(undefined, kind, errorReason(err));
      this.errorCode = upstreamErrorCode(err);
      res.destroy();
      return;
    }
    if (this.discarding) {
      // The dropped error answer broke off: the retry was decided already.
      this.discarding = false;
      return this.scheduleRetry();
    }
    if ((err as NodeJS.ErrnoException).code === 'GW_PAYLOAD_TOO_LARGE') return this.upstreamFailed(err); // the client's fault
    this.recordHealth(undefined, kind, errorReason(err));
    this.dp.log.warn({ requestId: this.requestId, route: this.route?.name, target: this.target?.url, attempt: this.attempt, err: { code: (err as NodeJS.ErrnoException).code, message: err.message } }, 'upstream call failed');
    this.lastError = err;
    this.lastStatus = undefined;
    if (this.mayRetry(undefined, kind)) return this.scheduleRetry();
    this.upstreamFailed(err);
  }

  /** The attempt's client span (sampled traces only). */
  private traceAttempt(err: Error | undefined): void {
    const t = this.attemptTarget;
    if (t === undefined || !this.trace!.sampled) return;
    const path = t.basePath + this.upstreamPath;
    this.tracer!.endAttempt(this.trace!, {
      method: this.req.method!,
      origin: t.origin,
      path: this.upstreamQuery ? `${path}?${this.upstreamQuery}` : path,
      attempt: this.attempt,
      status: this.attemptStatus,
      error: err,
    });
  }

  /** No more tries: answer with the last failure. */
  private upstreamFailed(err: Error | undefined): void {
    if (err === undefined) {
      // Every try was a retryable status and the last target is gone: say so plainly.
      this.breakerOutcome(true);
      return this.fail('GW_UPSTREAM_UNAVAILABLE', { close: this.req.readableEnded === false });
    }
    // A body over the limit says nothing about the service: no outcome for the breaker.
    const kind = failureKind(err);
    this.breakerOutcome(kind === undefined ? undefined : countsAsFailure(this.route!.service.state.breakerFailOn, undefined, kind));
    // The client's body may be unread: do not reuse this connection.
    this.fail(upstreamErrorCode(err), { close: this.req.readableEnded === false });
  }

  private circuitOpen(breaker: CircuitBreaker): void {
    const fb = this.route!.service.fallback;
    if (fb) return this.answer({ status: fb.status, headers: fb.headers, body: fb.body });
    this.fail('GW_CIRCUIT_OPEN', { headers: { 'retry-after': String(Math.max(1, Math.ceil(breaker.retryAfterMs() / 1000))) } });
  }

  private overloaded(): void {
    this.breakerOutcome(undefined);
    this.fail('GW_SERVICE_OVERLOADED', { headers: { 'retry-after': '1' } });
  }

  private releaseSlot(): void {
    if (!this.slotHeld) return;
    this.slotHeld = false;
    this.admission!.release();
  }

  // ---- endings ----

  /** A policy's answer. */
  private answer(v: Exclude<Verdict, undefined>, by?: string): void {
    this.closeIfDraining();
    this.closeIfBodyUnread();
    this.rejectedBy = by;
    this.status = v.status;
    this.errorCode = v.code;
    this.setServerHeader();
    // An answer that closes the connection (e.g. 413 with the body unread) serves nothing pipelined behind it.
    if (v.headers?.connection === 'close') this.markRefused();
    const extra = this.ctx?.locals.get(ERROR_HEADERS) as string[] | undefined;
    if (extra !== undefined) {
      // An earlier policy's headers (e.g. RateLimit fields), unless this verdict sets its own.
      const headers: Record<string, string> = {};
      for (let i = 0; i < extra.length; i += 2) headers[extra[i]!] = extra[i + 1]!;
      v = { ...v, headers: { ...headers, ...v.headers } };
    }
    sendVerdict(this.res, v, this.requestId);
  }

  /** Runs a later step of this request from a callback: a throw answers it (500) rather than escaping to the process. */
  private step(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.crashed(err);
    }
  }

  /** A bug escaped the request's own handling (e.g. a policy threw): 500 if nothing was sent yet, logged. */
  crashed(err: unknown): void {
    this.dp.log.error({ err, requestId: this.requestId, route: this.route?.name }, 'request handling failed');
    // A plugin's fault is named as one (plugin-guard.ts); anything else is the gateway's.
    const code = (err as { gatewayCode?: unknown } | null)?.gatewayCode === 'GW_POLICY_ERROR' ? 'GW_POLICY_ERROR' : 'GW_INTERNAL';
    if (!this.res.headersSent) this.fail(code, { close: true });
    else this.res.destroy();
  }

  private fail(code: ErrorCode, opts?: { headers?: Record<string, string>; close?: boolean }): void {
    this.closeIfDraining();
    this.closeIfBodyUnread();
    this.errorCode = code;
    this.setServerHeader();
    if (opts?.close) this.markRefused();
    let headers = opts?.headers;
    // Headers earlier policies want on every answer (e.g. RateLimit fields); see ERROR_HEADERS.
    const extra = this.ctx?.locals.get(ERROR_HEADERS) as string[] | undefined;
    if (extra !== undefined) {
      headers = { ...headers };
      for (let i = 0; i < extra.length; i += 2) headers[extra[i]!] = extra[i + 1]!;
    }
    sendError(this.res, code, this.requestId, { headers, close: opts?.close });
    this.status = this.res.statusCode;
  }

  /**
   * Answered before the request body was read (a 401, 403, 429 …): node would read and drop the
   * rest on a keep-alive connection with no idle limit, so a slow sender could hold it. Close it.
   */
  private closeIfBodyUnread(): void {
    // `scan` is unset only when handling failed before the headers were read (see crashed()).
    if (this.scan !== undefined && !this.req.complete && (this.scan.transferEncoding !== undefined || (this.scan.contentLength !== undefined && this.scan.contentLength !== '0'))) {
      this.res.shouldKeepAlive = false;
    }
  }

  /**
   * Drain may begin while this request runs (after the check in run()): its response must still
   * say `connection: close`, or a keep-alive client may reuse a connection the drain is closing.
   */
  private closeIfDraining(): void {
    if (this.dp.draining) this.res.shouldKeepAlive = false;
  }

  /** Malformed input: answer, close the connection, and serve nothing pipelined behind it. */
  private refuse(code: ErrorCode, message?: string, status?: number): void {
    this.markRefused();
    this.errorCode = code;
    this.setServerHeader();
    sendError(this.res, code, this.requestId, { close: true, message, status });
    this.status = this.res.statusCode;
  }

  /** Nothing that arrives on this connection after this request is served. */
  private markRefused(): void {
    const socket = this.req.socket as unknown as Record<symbol, boolean> | null;
    if (socket) socket[REFUSED] = true;
  }

  /** Gateway answers carry the configured Server header (proxied ones get it in onHeaders). */
  private setServerHeader(): void {
    const v = this.dp.limits.serverHeader;
    if (v !== undefined) this.res.setHeader('server', v);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (!this.res.writableFinished) {
      this.clientGone = true;
      this.abortUpstream?.(new Error('client went away'));
    }
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.cancelQueued?.();
    this.releaseSlot();
    if (this.breakerAdmission !== undefined) this.breakerOutcome(undefined);
    const route = this.route;
    if (route && route.log.length) {
      for (const p of route.log) {
        try { p.log!(this.context(), this.status); } catch { /* logging must not break the request */ }
      }
    }
    this.dp.completed(this);
  }
}

function errorReason(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message;
}

function disarmIdleTimeout(this: IncomingMessage): void {
  this.socket?.setTimeout(0);
}

function upstreamErrorCode(err: Error): ErrorCode {
  // The request body went over a request-size-limit (BodyLimit).
  if ((err as NodeJS.ErrnoException).code === 'GW_PAYLOAD_TOO_LARGE') return 'GW_PAYLOAD_TOO_LARGE';
  const kind = failureKind(err);
  return kind === 'timeout' ? 'GW_UPSTREAM_TIMEOUT' : kind === 'protocol' ? 'GW_UPSTREAM_ERROR' : 'GW_UPSTREAM_UNAVAILABLE';
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
