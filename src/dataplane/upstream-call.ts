// One request's call to its route's service: admission (the circuit breaker, then the service's
// concurrency limit and queue), the attempts (a target from the balancer, retries with backoff
// within their budget), passive health and the breaker's outcome, and undici's dispatch handler
// for the attempt in flight.
//
// A call has one outcome, told to its owner (the exchange) once: either a response — its head
// (`upstreamHead`), then its body streamed through (`upstreamData`, `upstreamEnd`, or
// `upstreamBroke` when it breaks off) — or an answer the gateway gives instead (`respond`: circuit
// open or its fallback, overloaded, no healthy target, the last attempt's failure). The owner's
// `end` tells the call the request is over, answered or abandoned, and frees what it holds.
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ErrorCode } from '../errors.js';
import type { CallOwner, UpgradeRequest, UpstreamRequest } from './call-owner.js';
import type { RetrySettings, ServiceRuntime, TargetRuntime } from '../upstream/service.js';
import type { Admission, CircuitBreaker } from '../upstream/circuit-breaker.js';
import type { AdmissionControl } from '../upstream/admission.js';
import { countsAsFailure, failureKind, type AttemptFailure } from '../upstream/attempt-result.js';
import { headGrpcStatus, listedGrpcStatus, retryableGrpcCall } from '../upstream/grpc-retry.js';
import { httpStatusOf } from './grpc.js';
import type { Logger } from '../observability/logger.js';

export type { CallOwner, UpgradeRequest, UpstreamRequest } from './call-owner.js';

/** What a call needs of the route it serves (a composite's call: of its own service). */
export interface CallRoute {
  readonly name: string;
  readonly service: ServiceRuntime;
  /** Methods retried besides the service's `retries.methods`. */
  readonly retryMethods: ReadonlySet<string>;
}

/** A proxying route as a call's route (a route with a handler makes no upstream call of its own). */
export function callRoute(route: {
  readonly name: string;
  readonly service: ServiceRuntime | undefined;
  readonly retryMethods: ReadonlySet<string>;
}): CallRoute {
  if (route.service === undefined) throw new Error(`route ${route.name} has no service`);
  return route as CallRoute;
}

export class UpstreamCall implements Dispatcher.DispatchHandler {
  /** The target of the latest attempt (the access log's `target`). */
  target: TargetRuntime | undefined;
  /** Attempts made (1 + retries). */
  attempt = 0;
  retries = 0;
  /** First attempt to the response head that was relayed, in ms (observed requests); -1 when none was. */
  upstreamMs = -1;
  /** Retry settings while the request may be sent again (undefined: one attempt only). */
  private retry: RetrySettings | undefined;
  /** A gRPC call of a method in `retries.grpcMethods`: its trailers-only refusals may be retried too. */
  readonly grpcRetry: boolean;
  private request: UpstreamRequest | undefined;
  private tried: Set<TargetRuntime> | undefined;
  private attemptTarget: TargetRuntime | undefined;
  private attemptStarted = 0;
  private attemptStatus: number | undefined;
  private firstStarted = 0;
  private abortAttempt: ((err: Error) => void) | undefined;
  /** The attempt in flight got a status that will be retried: its body is read and dropped. */
  private discarding = false;
  private lastError: Error | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  // Kept on the call: a reload may replace or drop the service's breaker or limit while the
  // request runs; its outcome and its slot belong to the ones that admitted it.
  private breaker: CircuitBreaker | undefined;
  private breakerAdmission: Admission | undefined;
  private breakerCycle = 0;
  private admission: AdmissionControl | undefined;
  private slotHeld = false;
  private cancelQueued: (() => void) | undefined;
  /** The owner answered while an attempt was running (its response phase failed). */
  private stopped = false;
  /** The request is over: nothing more is sent or told. */
  private ended = false;

  constructor(
    private readonly owner: CallOwner,
    private readonly route: CallRoute,
    private readonly log: Logger,
    /** A protocol upgrade (a WebSocket handshake): its 101 goes to `owner.upstreamUpgrade`. */
    private readonly upgrade?: UpgradeRequest,
  ) {
    const retry = route.service.retry;
    const method = owner.req.method!;
    const req = owner.req;
    this.grpcRetry = retry !== undefined && retryableGrpcCall(retry.grpc, method, req.url, req.headers?.['content-type']);
    if (retry !== undefined && (retry.methods.has(method) || route.retryMethods.has(method) || this.grpcRetry)) this.retry = retry;
  }

  /** The largest body kept to be sent again; -1 when the request is not retried. */
  get replayableBodyLimit(): number {
    return this.retry === undefined ? -1 : this.retry.bodyLimit;
  }

  /** The body streams through once: no attempt after the first. */
  noReplay(): void {
    this.retry = undefined;
  }

  /** The circuit breaker, then the service's concurrency limit and queue; then `owner.admitted()`. */
  admit(): void {
    const state = this.route.service.state;
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
        void r.wait.then((ok) =>
          this.owner.step(() => {
            this.cancelQueued = undefined;
            if (ok) this.slotHeld = true;
            if (this.ended) return this.releaseSlot();
            if (ok) this.owner.admitted();
            else this.overloaded();
          }),
        );
        return;
      }
      this.slotHeld = true;
    }
    this.owner.admitted();
  }

  /** Sends the request: the first attempt. */
  send(request: UpstreamRequest): void {
    this.request = request;
    this.route.service.state.budget?.recordRequest();
    this.attemptNext();
  }

  /** The owner answered instead of the response (its response phase failed): stop the attempt. */
  cancel(err: Error): void {
    this.stopped = true;
    this.abortAttempt?.(err);
  }

  /** The request is over (`clientGone`: abandoned): frees the slot, settles the breaker. */
  end(clientGone: boolean): void {
    this.ended = true;
    if (clientGone) this.abortAttempt?.(new Error('client went away'));
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.cancelQueued?.();
    this.releaseSlot();
    this.breakerOutcome(undefined);
  }

  private attemptNext(): void {
    this.retryTimer = undefined;
    const service = this.route.service;
    // A retry avoids the targets already tried (the balancer picks one again only when nothing else is left).
    if (this.attempt > 0) (this.tried ??= new Set()).add(this.target!);
    const target = service.select(service.hashKey?.(this.owner.context()), this.tried);
    if (target === undefined) {
      if (this.attempt === 0) {
        this.breakerOutcome(undefined);
        return this.owner.upstreamFailed({
          kind: 'error',
          code: 'GW_NO_HEALTHY_TARGET',
          headers: { 'retry-after': String(service.state.retryAfterSeconds()) },
        });
      }
      return this.failed(this.lastError);
    }
    this.attempt++;
    this.target = target;
    const r = this.request!;
    const headers = r.headers;
    if (r.hostIndex >= 0) headers[r.hostIndex] = r.host ?? target.host;
    const trace = this.owner.trace;
    if (trace !== undefined) {
      this.attemptStatus = undefined;
      headers[r.traceIndex] = this.owner.tracer!.startAttempt(trace);
    }
    const path = target.basePath + r.path;
    service.onStart(target);
    this.attemptTarget = target;
    this.attemptStarted = performance.now();
    if (this.attempt === 1) this.firstStarted = this.attemptStarted;
    target.dispatcher.dispatch(
      {
        origin: target.origin,
        method: r.method,
        path: r.query ? `${path}?${r.query}` : path,
        headers,
        body: r.body,
        trailerSource: r.trailers, // read by an HTTP/2 pool when the body has ended (undici ignores it)
        headersTimeout:
          this.upgrade !== undefined
            ? this.upgrade.timeout
            : this.retry !== undefined
              ? this.retry.perTryTimeoutMs
              : service.timeouts.response,
        bodyTimeout: service.timeouts.idle,
        upgrade: this.upgrade?.protocol,
      },
      this,
    );
  }

  // ---- undici dispatch handler (the attempt in flight) ----

  onConnect(abort: (err?: Error) => void): void {
    if (this.ended) abort(new Error('client went away'));
    else this.abortAttempt = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[], resume: () => void): boolean {
    if (statusCode < 200) return true; // interim responses are not relayed yet
    this.attemptStatus = statusCode;
    const counted = this.countedStatus(statusCode, rawHeaders);
    this.recordHealth(counted, undefined, `status ${counted}`);
    if (this.mayRetry(statusCode, undefined, rawHeaders)) {
      // Read and drop this answer (the connection stays reusable), then try again.
      this.discarding = true;
      this.lastError = undefined;
      return true;
    }
    if (this.breakerAdmission !== undefined)
      this.breakerOutcome(countsAsFailure(this.route.service.state.breakerFailOn, counted, undefined));
    if (this.owner.observed) this.upstreamMs = performance.now() - this.firstStarted; // a clock read costs: only for the record
    return this.owner.upstreamHead(statusCode, rawHeaders, resume);
  }

  /** The service switched protocols: the attempt succeeded, and the owner takes the socket. */
  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[], socket: Duplex): void {
    this.abortAttempt = undefined; // the socket is the owner's now: an abort must not reach it
    this.attemptStatus = statusCode;
    this.endAttempt(undefined);
    this.recordHealth(statusCode, undefined, `status ${statusCode}`);
    this.breakerOutcome(false);
    if (this.owner.observed) this.upstreamMs = performance.now() - this.firstStarted;
    this.releaseSlot(); // an open connection holds no slot of the service's concurrency limit
    if (this.ended) return void socket.destroy();
    this.owner.upstreamUpgrade!(statusCode, rawHeaders, socket);
  }

  onData(chunk: Buffer): boolean {
    if (this.discarding) return true;
    return this.owner.upstreamData(chunk);
  }

  onComplete(trailers?: readonly (Buffer | string)[] | null): void {
    this.abortAttempt = undefined;
    this.endAttempt(undefined);
    if (this.discarding) {
      this.discarding = false;
      if (!this.ended) this.scheduleRetry();
      return;
    }
    this.owner.upstreamEnd(trailers);
  }

  onError(err: Error): void {
    // undici 7 takes a 304 (or 204) whose Content-Length announces the representation for a short
    // body (RFC 9110 §8.6 allows it; undici 8, which needs node 22, no longer does): such a response
    // has no body by definition, so it ended whole.
    if (
      (this.attemptStatus === 304 || this.attemptStatus === 204) &&
      (err as { code?: string }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'
    )
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- this handler's own completion (undici's legacy handler API, which the class implements)
      return this.onComplete(null);
    this.abortAttempt = undefined;
    this.endAttempt(err);
    if (this.ended || this.stopped) return;
    const kind = failureKind(err);
    if (this.owner.headersSent()) {
      // Mid-body failure: the client must not mistake a truncated body for a whole one.
      this.recordHealth(undefined, kind, errorReason(err));
      return this.owner.upstreamBroke(upstreamErrorCode(err));
    }
    if (this.discarding) {
      // The dropped answer broke off: the retry was decided already.
      this.discarding = false;
      return this.scheduleRetry();
    }
    if ((err as NodeJS.ErrnoException).code === 'GW_PAYLOAD_TOO_LARGE') return this.failed(err); // the client's fault
    this.recordHealth(undefined, kind, errorReason(err));
    this.log.warn(
      {
        requestId: this.owner.requestId,
        route: this.route.name,
        target: this.target?.url,
        attempt: this.attempt,
        err: { code: (err as NodeJS.ErrnoException).code, message: err.message },
      },
      'upstream call failed',
    );
    this.lastError = err;
    if (this.mayRetry(undefined, kind)) return this.scheduleRetry();
    this.failed(err);
  }

  // ---- attempts and retries ----

  /** The attempt in flight has ended (answered, failed or abandoned): balancer bookkeeping, its span. */
  private endAttempt(err: Error | undefined): void {
    const t = this.attemptTarget;
    if (t === undefined) return;
    this.attemptTarget = undefined;
    this.route.service.onEnd(t, performance.now() - this.attemptStarted);
    const trace = this.owner.trace;
    if (trace !== undefined && trace.sampled) {
      const r = this.request!;
      const path = t.basePath + r.path;
      this.owner.tracer!.endAttempt(trace, {
        method: r.method,
        origin: t.origin,
        path: r.query ? `${path}?${r.query}` : path,
        attempt: this.attempt,
        status: this.attemptStatus,
        error: err,
        label: this.owner.label,
      });
    }
  }

  /**
   * May the request be tried again after this failure? Takes a retry from the budget if so.
   * `rawHeaders`: the answer's head, where a trailers-only gRPC answer carries the grpc-status `retries.grpcStatuses` may list.
   */
  private mayRetry(
    status: number | undefined,
    kind: AttemptFailure | 'protocol' | undefined,
    rawHeaders?: readonly (Buffer | string)[],
  ): boolean {
    const retry = this.retry;
    if (retry === undefined || this.ended) return false;
    if (this.attempt >= retry.attempts) return false;
    const wanted =
      status !== undefined
        ? retry.onStatus.has(status) ||
          (this.grpcRetry && status === 200 && rawHeaders !== undefined && listedGrpcStatus(retry.grpc, rawHeaders))
        : kind === 'connect-error'
          ? retry.onConnectError
          : kind === 'timeout' && retry.onTimeout;
    if (!wanted) return false;
    return this.route.service.state.budget?.tryRetry() ?? true;
  }

  private scheduleRetry(): void {
    const retry = this.retry!;
    this.retries++;
    // Full jitter: a random wait up to the exponential step, so retries of many clients spread out.
    const cap = Math.min(retry.maxMs, retry.baseMs * 2 ** (this.attempt - 1));
    this.retryTimer = setTimeout(() => this.owner.step(() => this.attemptNext()), Math.random() * cap);
  }

  /**
   * The status passive health and the breaker count: a gRPC service's trailers-only answer (HTTP
   * 200 with its grpc-status in the head) counts as that status's HTTP equivalent — UNAVAILABLE
   * from a draining or overloaded server is a 503, as Envoy's outlier detection reads it. Looked
   * for only where one of them counts.
   */
  private countedStatus(statusCode: number, rawHeaders: readonly (Buffer | string)[]): number {
    if (statusCode !== 200 || (this.breakerAdmission === undefined && this.route.service.state.passive === undefined)) return statusCode;
    const grpc = headGrpcStatus(rawHeaders);
    return grpc === undefined ? statusCode : httpStatusOf(grpc);
  }

  /** Passive health for the attempt's target. */
  private recordHealth(status: number | undefined, kind: AttemptFailure | 'protocol' | undefined, reason: string): void {
    const state = this.route.service.state;
    const passive = state.passive;
    if (passive) state.recordPassive(this.target!.health, countsAsFailure(passive.failOn, status, kind), reason);
  }

  /** The request's final upstream outcome, for the circuit breaker (once per request; undefined: none). */
  private breakerOutcome(failed: boolean | undefined): void {
    const a = this.breakerAdmission;
    if (a === undefined) return;
    this.breakerAdmission = undefined;
    const breaker = this.breaker!;
    if (failed === undefined) {
      if (a === 'probe') breaker.cancelProbe(this.breakerCycle);
    } else breaker.record(failed, a, this.breakerCycle);
  }

  // ---- outcomes the gateway answers ----

  /** No more attempts: answer with the last failure (undefined: every try was a retried status). */
  private failed(err: Error | undefined): void {
    // The client's body may be unread: do not reuse this connection.
    const close = !this.owner.req.readableEnded;
    if (err === undefined) {
      // Every try was a retryable status and the last target is gone: say so plainly.
      this.breakerOutcome(true);
      return this.owner.upstreamFailed({ kind: 'error', code: 'GW_UPSTREAM_UNAVAILABLE', close });
    }
    // A body over the limit says nothing about the service: no outcome for the breaker.
    const kind = failureKind(err);
    this.breakerOutcome(kind === undefined ? undefined : countsAsFailure(this.route.service.state.breakerFailOn, undefined, kind));
    this.owner.upstreamFailed({ kind: 'error', code: upstreamErrorCode(err), close });
  }

  private circuitOpen(breaker: CircuitBreaker): void {
    const fb = this.route.service.fallback;
    if (fb) return this.owner.respond({ kind: 'verdict', verdict: { status: fb.status, headers: fb.headers, body: fb.body } });
    this.owner.upstreamFailed({
      kind: 'error',
      code: 'GW_CIRCUIT_OPEN',
      headers: { 'retry-after': String(Math.max(1, Math.ceil(breaker.retryAfterMs() / 1000))) },
    });
  }

  private overloaded(): void {
    this.breakerOutcome(undefined);
    this.owner.upstreamFailed({ kind: 'error', code: 'GW_SERVICE_OVERLOADED', headers: { 'retry-after': '1' } });
  }

  private releaseSlot(): void {
    if (!this.slotHeld) return;
    this.slotHeld = false;
    this.admission!.release();
  }
}

function errorReason(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message;
}

function upstreamErrorCode(err: Error): ErrorCode {
  // The request body went over a request-size-limit (BodyLimit).
  if ((err as NodeJS.ErrnoException).code === 'GW_PAYLOAD_TOO_LARGE') return 'GW_PAYLOAD_TOO_LARGE';
  const kind = failureKind(err);
  return kind === 'timeout' ? 'GW_UPSTREAM_TIMEOUT' : kind === 'protocol' ? 'GW_UPSTREAM_ERROR' : 'GW_UPSTREAM_UNAVAILABLE';
}
