// The gateway's tracer: one SERVER span per request and one CLIENT span per upstream attempt,
// with attributes from the OpenTelemetry HTTP semantic conventions. Sampling is parent-based: a
// request with a valid `traceparent` follows its sampled flag; a new trace is sampled with
// `sampleRatio`. Unsampled requests still get ids (for the access log and for propagation) but
// record nothing.
import type { GatehouseConfig } from '../../config/schema.js';
import { parseDuration } from '../../config/units.js';
import { OtlpExporter } from './otlp-exporter.js';
import type { RequestRecord } from '../request-record.js';
import { SPAN_KIND_CLIENT, SPAN_KIND_SERVER, epochMs } from './span.js';
import { acceptTracestate, formatTraceparent, newSpanId, newTraceId, parseTraceparent } from './trace-context.js';
import { RequestTrace, type AttemptFacts, type AttemptSpan } from './request-trace.js';

export { RequestTrace, type AttemptFacts } from './request-trace.js';

export class Tracer {
  readonly exporter: OtlpExporter;
  private readonly ratio: number;

  constructor(cfg: NonNullable<GatehouseConfig['tracing']>) {
    this.ratio = cfg.sampleRatio;
    this.exporter = new OtlpExporter({
      endpoint: cfg.endpoint,
      protocol: cfg.protocol,
      serviceName: cfg.serviceName,
      flushIntervalMs: parseDuration(cfg.flushInterval),
      maxQueueSize: cfg.maxQueueSize,
      maxBatchSize: cfg.maxBatchSize,
    });
  }

  /** Starts the trace of a request from its `traceparent`/`tracestate` (valid ones only). */
  start(traceparent: string | undefined, tracestate: string | undefined): RequestTrace {
    const parent = parseTraceparent(traceparent);
    if (parent) return new RequestTrace(parent.traceId, parent.spanId, parent.sampled, acceptTracestate(tracestate));
    const ratio = this.ratio;
    return new RequestTrace(newTraceId(), undefined, ratio >= 1 || (ratio > 0 && Math.random() < ratio), undefined);
  }

  /** A new upstream attempt: its span id and the `traceparent` the upstream gets. */
  startAttempt(t: RequestTrace): string {
    t.attemptSpanId = newSpanId();
    if (t.sampled) t.attemptStartMs = epochMs();
    return formatTraceparent(t.traceId, t.attemptSpanId, t.sampled);
  }

  /** Ends the attempt in flight; its client span is encoded later, with the server span (end). */
  endAttempt(t: RequestTrace, a: AttemptFacts): void {
    if (!t.sampled || t.attemptSpanId === '') return;
    const span: AttemptSpan = {
      method: a.method,
      origin: a.origin,
      path: a.path,
      attempt: a.attempt,
      status: a.status,
      error: a.error,
      label: a.label,
      spanId: t.attemptSpanId,
      startMs: t.attemptStartMs,
      endMs: epochMs(),
    };
    t.attemptSpanId = '';
    if (t.ended) this.addAttempt(t, span);
    else (t.attempts ??= []).push(span);
  }

  private addAttempt(t: RequestTrace, a: AttemptSpan): void {
    const failed = a.error !== undefined || (a.status !== undefined && a.status >= 400);
    const { host, port } = splitOrigin(a.origin);
    this.exporter.add({
      traceId: t.traceId,
      spanId: a.spanId,
      parentSpanId: t.spanId,
      traceState: t.traceState,
      name: a.label === undefined ? a.method : `${a.method} ${a.label}`,
      kind: SPAN_KIND_CLIENT,
      startMs: a.startMs,
      endMs: a.endMs,
      attributes: [
        'http.request.method',
        a.method,
        'server.address',
        host,
        'server.port',
        port,
        'url.full',
        a.origin + (t.hideQuery ? withoutQuery(a.path) : a.path),
        'http.response.status_code',
        a.status,
        'http.request.resend_count',
        a.attempt > 1 ? a.attempt - 1 : undefined,
        'error.type',
        a.error ? errorType(a.error) : failed ? String(a.status) : undefined,
        'gatehouse.call',
        a.label,
      ],
      error: failed ? (a.error ? a.error.message : `HTTP ${a.status}`) : undefined,
      exception: a.error ? { type: errorType(a.error), message: a.error.message } : undefined,
    });
  }

  /** The server span, from the finished request's record. */
  end(t: RequestTrace, f: RequestRecord): void {
    if (!t.sampled) return;
    t.ended = true;
    if (f.operation !== undefined) t.hideQuery = true;
    const attempts = t.attempts;
    if (attempts !== undefined) {
      for (let i = 0; i < attempts.length; i++) this.addAttempt(t, attempts[i]!);
      t.attempts = undefined;
    }
    const failed = f.status >= 500 || f.status === 0;
    const errorType =
      f.error !== undefined && f.status >= 500 ? f.error : f.status === 0 ? 'aborted' : failed ? String(f.status) : undefined;
    this.exporter.add({
      traceId: t.traceId,
      spanId: t.spanId,
      parentSpanId: t.parentSpanId,
      traceState: t.traceState,
      name: f.route !== undefined ? `${f.method} ${f.route}` : f.method,
      kind: SPAN_KIND_SERVER,
      startMs: t.startMs,
      endMs: t.startMs + f.durationMs, // the span is recorded a little later, in a batch
      attributes: [
        'http.request.method',
        f.method,
        'url.scheme',
        f.scheme,
        'url.path',
        f.path,
        'url.query',
        // A GraphQL GET carries its variables in the query: never exported.
        f.operation === undefined ? f.query || undefined : undefined,
        'server.address',
        f.host,
        'client.address',
        f.clientIp ?? f.peerIp,
        'user_agent.original',
        f.userAgent,
        'network.protocol.version',
        f.protocol === '2.0' ? '2' : f.protocol, // the semantic conventions' "2" for HTTP/2
        'http.response.status_code',
        f.status || undefined,
        'error.type',
        errorType,
        'gatehouse.route',
        f.route,
        'gatehouse.service',
        f.service,
        'gatehouse.request_id',
        f.requestId,
        'gatehouse.error_code',
        f.error,
        // The semantic conventions' graphql.operation.type / .name (never the document or variables).
        f.operation === undefined ? undefined : f.operation.protocol + '.operation.type',
        f.operation?.type,
        f.operation === undefined ? undefined : f.operation.protocol + '.operation.name',
        f.operation?.name,
      ],
      error: failed ? (f.error ?? (f.aborted ? 'client went away' : `HTTP ${f.status}`)) : undefined,
      exception: undefined,
    });
  }

  counts(): { exported: number; dropped: number } {
    return { exported: this.exporter.exported, dropped: this.exporter.dropped };
  }

  close(): Promise<void> {
    return this.exporter.close();
  }
}

function withoutQuery(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

function errorType(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.name;
}

/** "http://host:port" → host and port (only for sampled spans). */
function splitOrigin(origin: string): { host: string; port: number } {
  const start = origin.indexOf('://') + 3;
  const colon = origin.lastIndexOf(':');
  const bracket = origin.lastIndexOf(']');
  if (colon > start && colon > bracket)
    return { host: origin.slice(start, colon).replace(/^\[|\]$/g, ''), port: Number(origin.slice(colon + 1)) };
  return { host: origin.slice(start).replace(/^\[|\]$/g, ''), port: origin.startsWith('https') ? 443 : 80 };
}
