// A request a route kind sends to a service (a composite's call): an upstream call like a proxied
// request's — admission by the circuit breaker and the concurrency limit, a target from the
// balancer, retries, passive health, a client span of the request's trace — whose answer is read
// whole (up to a limit) for the handler instead of streamed to a client.
import type { ErrorCode } from '../errors.js';
import type { RequestContext } from '../policies/types.js';
import type { Logger } from '../observability/logger.js';
import type { RequestTrace } from '../observability/tracing/request-trace.js';
import type { Tracer } from '../observability/tracing/tracer.js';
import type { CallRecord, CancelSignal, ServiceFailure, ServiceRequest, ServiceResult } from '../routes/types.js';
import type { ServiceRuntime } from '../upstream/service.js';
import type { CallOwner, UpstreamRequest } from './call-owner.js';
import type { Answer } from './respond.js';
import { UpstreamCall } from './upstream-call.js';
import { upstreamFields } from './forwarding.js';

const NO_RETRY_METHODS: ReadonlySet<string> = new Set();

/** What a fetch needs of the request it is made for. */
export interface FetchSource {
  readonly routeName: string;
  readonly requestId: string;
  readonly log: Logger;
  readonly trace: RequestTrace | undefined;
  readonly tracer: Tracer | undefined;
  readonly services: ReadonlyMap<string, ServiceRuntime>;
  context(): RequestContext;
  /** The request's headers for the service: the request's own fields, then forwarding, identity, trace and Host. */
  headers(own: string[]): { headers: string[]; hostIndex: number; traceIndex: number };
  /** Cancelled when the client goes away. */
  readonly signal: CancelSignal;
  readonly calls: CallRecord[];
}

export function serviceFetch(source: FetchSource, req: ServiceRequest): Promise<ServiceResult> {
  return new Promise((resolve) => new ServiceFetch(source, req, resolve).start());
}

class ServiceFetch implements CallOwner {
  readonly req: { method: string; readableEnded: true };
  readonly trace: RequestTrace | undefined;
  readonly tracer: Tracer | undefined;
  readonly observed = false;
  readonly label: string;
  private call: UpstreamCall | undefined;
  private status = 0;
  private headers: string[] = [];
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly started = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  private removeCancel: (() => void) | undefined;

  constructor(
    private readonly source: FetchSource,
    private readonly request: ServiceRequest,
    private readonly resolve: (r: ServiceResult) => void,
  ) {
    this.req = { method: request.method, readableEnded: true };
    this.label = request.label;
    // Calls run at once: each has its own attempt in flight in the trace.
    this.trace = source.trace?.forConcurrentCall();
    this.tracer = source.tracer;
  }

  get requestId(): string {
    return this.source.requestId;
  }

  start(): void {
    const service = this.source.services.get(this.request.service);
    if (service === undefined) return this.finish({ kind: 'error', code: 'GW_UPSTREAM_UNAVAILABLE' }); // validation names only defined services
    const signal = this.signal;
    if (signal.cancelled) return this.finish({ kind: 'cancelled' });
    this.removeCancel = signal.onCancel(() => this.finish({ kind: 'cancelled' }));
    if (this.request.timeoutMs > 0) this.timer = setTimeout(() => this.finish({ kind: 'timeout' }), this.request.timeoutMs);
    this.call = new UpstreamCall(this, { name: this.source.routeName, service, retryMethods: NO_RETRY_METHODS }, this.source.log);
    this.step(() => this.call!.admit());
  }

  /** The request's own signal (a handler aborts it when the client goes away too), else the client's. */
  private get signal(): CancelSignal {
    return this.request.signal ?? this.source.signal;
  }

  context(): RequestContext {
    return this.source.context();
  }

  step(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.source.log.error(
        { err, requestId: this.source.requestId, route: this.source.routeName, call: this.label },
        'service call failed',
      );
      this.finish({ kind: 'error', code: 'GW_INTERNAL' });
    }
  }

  headersSent(): boolean {
    return false;
  }

  admitted(): void {
    const r = this.request;
    const h = this.source.headers([...r.headers]);
    const up: UpstreamRequest = {
      method: r.method,
      headers: h.headers,
      hostIndex: h.hostIndex,
      host: undefined,
      traceIndex: h.traceIndex,
      path: r.path,
      query: r.query,
      body: r.body,
    };
    this.call!.send(up);
  }

  /** The circuit is open and the service has a fallback: that is the answer. */
  respond(answer: Answer): void {
    if (answer.kind === 'error') return this.finish({ kind: 'error', code: answer.code });
    const v = answer.verdict;
    const headers = Object.entries(v.headers ?? {}).flat();
    this.succeed(v.status, headers, Buffer.from(v.body ?? ''));
  }

  upstreamFailed(answer: Answer): void {
    this.finish(answer.kind === 'error' ? { kind: 'error', code: answer.code } : { kind: 'error', code: 'GW_UPSTREAM_ERROR' });
  }

  upstreamHead(status: number, rawHeaders: Buffer[] | string[]): boolean {
    // A retry's head starts the body afresh.
    this.status = status;
    this.headers = upstreamFields(rawHeaders);
    this.chunks = [];
    this.size = 0;
    return !this.done;
  }

  upstreamData(chunk: Buffer): boolean {
    if (this.done) return false;
    this.size += chunk.length;
    if (this.size > this.request.maxBodyBytes) {
      this.finish({ kind: 'too-large' });
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  upstreamEnd(): void {
    this.succeed(this.status, this.headers, Buffer.concat(this.chunks, this.size));
  }

  upstreamBroke(code: ErrorCode): void {
    this.finish({ kind: 'error', code });
  }

  private succeed(status: number, headers: string[], body: Buffer): void {
    if (this.done) return;
    this.settle({ ok: true, status, headers, body, ms: performance.now() - this.started, target: this.call?.target?.url }, status, false);
  }

  private finish(failure: ServiceFailure): void {
    if (this.done) return;
    const outcome = failure.kind === 'error' ? failure.code : failure.kind;
    // A timeout, a cancel or a body too large abandons the attempt in flight.
    this.settle(
      { ok: false, failure, ms: performance.now() - this.started, target: this.call?.target?.url },
      outcome,
      failure.kind !== 'error',
    );
  }

  private settle(result: ServiceResult, outcome: number | string, abandon: boolean): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.removeCancel?.();
    this.call?.end(abandon);
    this.source.calls.push({ label: this.label, service: this.request.service, outcome, ms: result.ms });
    this.resolve(result);
  }
}
