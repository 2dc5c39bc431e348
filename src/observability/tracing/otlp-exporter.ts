// A lean OTLP/HTTP exporter with JSON bodies (https://opentelemetry.io/docs/specs/otlp/).
// Chosen over the OpenTelemetry SDK: the gateway needs two span kinds and a batch queue, and the
// SDK's per-span objects, context managers and processors would cost more on the hot path than
// the whole request. Finished spans go into a bounded queue; a timer (or a full batch) sends them.
// A full queue drops the span and counts it: a request never waits for the collector.
import { request } from 'undici';
import { type AttributeValue, type SpanRecord } from './span.js';
import { VERSION } from '../../version.js';

export interface ExporterSettings {
  endpoint: string;
  serviceName: string;
  flushIntervalMs: number;
  maxQueueSize: number;
  maxBatchSize: number;
}

export class OtlpExporter {
  private queue: SpanRecord[] = [];
  /** The export loop under way, if any (one at a time). */
  private running: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private soon = false;
  exported = 0;
  dropped = 0;
  failedExports = 0;
  private closed = false;
  /** The resource, as OTLP JSON text. */
  private readonly resource: string;

  constructor(private readonly s: ExporterSettings) {
    this.timer = setInterval(() => void this.flush(), s.flushIntervalMs);
    this.timer.unref();
    this.resource = `{"attributes":${attributesJson({ 'service.name': s.serviceName, 'service.version': VERSION, 'telemetry.sdk.name': 'gatehouse', 'telemetry.sdk.language': 'nodejs' })}}`;
  }

  /** Queues a finished span; drops it (counted) when the queue is full. */
  add(span: SpanRecord): void {
    // After close (a reload replaced the tracer), a late span of a request still in flight is dropped.
    if (this.closed || this.queue.length >= this.s.maxQueueSize) {
      this.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.s.maxBatchSize && !this.soon && this.running === undefined) {
      this.soon = true;
      setImmediate(() => { this.soon = false; void this.flush(); });
    }
  }

  /** Sends everything queued, one batch at a time; resolves when the queue is empty. */
  flush(): Promise<void> {
    return (this.running ??= this.drain().finally(() => { this.running = undefined; }));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) await this.send(this.queue.splice(0, this.s.maxBatchSize));
  }

  private async send(batch: SpanRecord[]): Promise<void> {
    let spans = '';
    for (let i = 0; i < batch.length; i++) spans += (i ? ',' : '') + spanJson(batch[i]!);
    const body = `{"resourceSpans":[{"resource":${this.resource},"scopeSpans":[{"scope":{"name":"gatehouse","version":${JSON.stringify(VERSION)}},"spans":[${spans}]}]}]}`;
    try {
      const res = await request(this.s.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) this.exported += batch.length;
      else this.lost(batch.length);
    } catch {
      this.lost(batch.length);
    }
  }

  private lost(n: number): void {
    this.failedExports++;
    this.dropped += n;
  }

  /** Last export on shutdown, then no more timers. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closed = true;
    await this.flush();
  }
}

// OTLP/JSON is written directly as text: a span is ~15 attributes, and building an object per
// attribute only to stringify it again cost about twice as much CPU. Keys are constants; every
// value that comes from a request goes through JSON.stringify.
function spanJson(s: SpanRecord): string {
  let out = `{"traceId":"${s.traceId}","spanId":"${s.spanId}"`;
  if (s.parentSpanId) out += `,"parentSpanId":"${s.parentSpanId}"`;
  if (s.traceState) out += `,"traceState":${JSON.stringify(s.traceState)}`;
  out += `,"name":${JSON.stringify(s.name)},"kind":${s.kind},"startTimeUnixNano":"${nanos(s.startMs)}","endTimeUnixNano":"${nanos(s.endMs)}","attributes":${attributesJson(s.attributes)}`;
  out += s.exception
    ? `,"events":[{"name":"exception","timeUnixNano":"${nanos(s.endMs)}","attributes":${attributesJson({ 'exception.type': s.exception.type, 'exception.message': s.exception.message })}}]`
    : ',"events":[]';
  // Per the HTTP conventions a span is left UNSET (0) unless it failed (ERROR, 2).
  out += s.error !== undefined ? `,"status":{"code":2,"message":${JSON.stringify(s.error)}}}` : ',"status":{"code":0}}';
  return out;
}

export function attributesJson(a: Record<string, AttributeValue | undefined>): string {
  let out = '[';
  for (const key in a) {
    const v = a[key];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += `{"key":${JSON.stringify(key)},"value":`;
    out += typeof v === 'string'
      ? `{"stringValue":${JSON.stringify(v)}}}`
      : typeof v === 'boolean'
        ? `{"boolValue":${v}}}`
        : Number.isInteger(v)
          ? `{"intValue":"${v}"}}`
          : `{"doubleValue":${Number.isFinite(v) ? v : 0}}}`;
  }
  return out + ']';
}

/** Epoch ms (fractional) → unsigned nanoseconds as a decimal string, without float overflow. */
export function nanos(ms: number): string {
  const whole = Math.floor(ms);
  const frac = Math.round((ms - whole) * 1e6);
  if (frac >= 1e6) return `${whole + 1}000000`;
  return `${whole}${String(frac).padStart(6, '0')}`;
}
