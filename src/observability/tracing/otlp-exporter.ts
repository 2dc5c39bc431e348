// A lean OTLP/HTTP exporter (https://opentelemetry.io/docs/specs/otlp/), protobuf bodies by
// default (otlp-proto.ts), JSON with `protocol: http/json`.
// Chosen over the OpenTelemetry SDK: the gateway needs two span kinds and a batch queue, and the
// SDK's per-span objects, context managers and processors would cost more on the hot path than
// the whole request. Finished spans go into a bounded queue; a timer (or a full batch) sends them.
// A full queue drops the span and counts it: a request never waits for the collector.
import { type AttributeList, type SpanRecord } from './span.js';
import { VERSION } from '../../version.js';
import { jsonString } from '../json-text.js';
import { SpanBytes, encodeHead, encodeRequest, type RequestHead } from './otlp-proto.js';
import { OtlpSender } from './otlp-sender.js';

export interface ExporterSettings {
  endpoint: string;
  /** http/protobuf (default) or http/json. */
  protocol?: 'http/protobuf' | 'http/json';
  serviceName: string;
  flushIntervalMs: number;
  maxQueueSize: number;
  maxBatchSize: number;
}

/** A JSON batch: the spans as recorded, written out when sent. */
class SpanRecords {
  readonly spans: SpanRecord[] = [];
  get count(): number {
    return this.spans.length;
  }
  add(s: SpanRecord): void {
    this.spans.push(s);
  }
}

/** Spans exported together: encoded as they come (protobuf) or as recorded (JSON). */
type Batch = SpanBytes | SpanRecords;

/** A protobuf batch's first buffer: room for this many bytes a span (a span is about 280). */
const SPAN_BYTES_GUESS = 320;

export class OtlpExporter {
  /** Finished spans in batches of at most maxBatchSize, oldest first; only the last one fills. */
  private batches: Batch[] = [];
  /** Spans in `batches`. */
  private queued = 0;
  private readonly json: boolean;
  private readonly head: RequestHead;
  /** The export loop under way, if any (one at a time). */
  private running: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private soon = false;
  /** Send partial batches too (a flush was asked for), not only full ones. */
  private all = false;
  exported = 0;
  dropped = 0;
  failedExports = 0;
  private closed = false;
  /** The resource, as OTLP JSON text. */
  private readonly resource: string;
  /** Posts the export requests, from a worker thread. */
  private readonly sender: OtlpSender;

  constructor(private readonly s: ExporterSettings) {
    this.timer = setInterval(() => void this.flush(), s.flushIntervalMs);
    this.timer.unref();
    const resource = {
      'service.name': s.serviceName,
      'service.version': VERSION,
      'telemetry.sdk.name': 'gatehouse',
      'telemetry.sdk.language': 'nodejs',
    };
    this.json = s.protocol === 'http/json';
    this.resource = `{"attributes":${attributesJson(Object.entries(resource).flat())}}`;
    this.head = encodeHead(Object.entries(resource).flat(), { name: 'gatehouse', version: VERSION });
    this.sender = new OtlpSender(s.endpoint, this.json ? 'application/json' : 'application/x-protobuf');
  }

  /** Queues a finished span; drops it (counted) when the queue is full. */
  add(span: SpanRecord): void {
    // After close (a reload replaced the tracer), a late span of a request still in flight is dropped.
    if (this.closed || this.queued >= this.s.maxQueueSize) {
      this.dropped++;
      return;
    }
    let last = this.batches[this.batches.length - 1];
    if (last === undefined || last.count >= this.s.maxBatchSize) {
      last = this.json ? new SpanRecords() : new SpanBytes(Math.min(this.s.maxBatchSize, 512) * SPAN_BYTES_GUESS);
      this.batches.push(last);
    }
    last.add(span);
    this.queued++;
    if (this.batches[0]!.count >= this.s.maxBatchSize && !this.soon && this.running === undefined) {
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        void this.drainRunning();
      });
    }
  }

  /** Sends everything queued, one batch at a time; resolves when the queue is empty. */
  flush(): Promise<void> {
    this.all = true;
    return this.drainRunning();
  }

  private drainRunning(): Promise<void> {
    return (this.running ??= this.drain());
  }

  /**
   * Full batches go out as soon as they are full; a partial one waits for the interval (or an
   * explicit flush), as OpenTelemetry's batch span processor does. Sending whatever had queued
   * the moment an export returned meant an export request every few milliseconds under load,
   * each costing more than the spans it carried.
   */
  private async drain(): Promise<void> {
    try {
      for (;;) {
        const first = this.batches[0];
        if (first === undefined || (first.count < this.s.maxBatchSize && !this.all)) break;
        this.batches.shift();
        this.queued -= first.count;
        await this.send(first);
      }
    } finally {
      // Cleared in the same step as the last check of the queue: a flush() from now on starts a
      // new drain instead of getting this finished one (and its spans would wait, or be lost on close).
      this.all = false;
      this.running = undefined;
    }
  }

  private async send(batch: Batch): Promise<void> {
    let body: string | Buffer;
    if (batch instanceof SpanBytes) {
      body = encodeRequest(this.head, batch);
    } else {
      // One join, not `+=` per span: a long chain of concatenations is a deep rope that V8 must
      // flatten (slowly) before the body can be written.
      const spans = batch.spans;
      const parts = new Array<string>(spans.length);
      for (let i = 0; i < spans.length; i++) parts[i] = spanJson(spans[i]!);
      body = `{"resourceSpans":[{"resource":${this.resource},"scopeSpans":[{"scope":{"name":"gatehouse","version":${JSON.stringify(VERSION)}},"spans":[${parts.join(',')}]}]}]}`;
    }
    const count = batch.count;
    if (await this.sender.send(body)) this.exported += count;
    else this.lost(count);
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
    await this.sender.close();
  }
}

// OTLP/JSON is written directly as text: a span is ~15 attributes, and building an object per
// attribute only to stringify it again cost about twice as much CPU. Keys are constants; every
// value that comes from a request is escaped as JSON.stringify would (json-text.ts).
function spanJson(s: SpanRecord): string {
  let out = `{"traceId":"${s.traceId}","spanId":"${s.spanId}"`;
  if (s.parentSpanId) out += `,"parentSpanId":"${s.parentSpanId}"`;
  if (s.traceState) out += `,"traceState":${jsonString(s.traceState)}`;
  out += `,"name":${jsonString(s.name)},"kind":${s.kind},"startTimeUnixNano":"${nanos(s.startMs)}","endTimeUnixNano":"${nanos(s.endMs)}","attributes":${attributesJson(s.attributes)}`;
  out += s.exception
    ? `,"events":[{"name":"exception","timeUnixNano":"${nanos(s.endMs)}","attributes":${attributesJson(['exception.type', s.exception.type, 'exception.message', s.exception.message])}}]`
    : ',"events":[]';
  // Per the HTTP conventions a span is left UNSET (0) unless it failed (ERROR, 2).
  out += s.error !== undefined ? `,"status":{"code":2,"message":${jsonString(s.error)}}}` : ',"status":{"code":0}}';
  return out;
}

export function attributesJson(a: AttributeList): string {
  let out = '[';
  for (let i = 0; i < a.length; i += 2) {
    const key = a[i] as string;
    const v = a[i + 1];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += `{"key":"${key}","value":`; // keys are the tracer's own constants (plain ASCII)
    out +=
      typeof v === 'string'
        ? `{"stringValue":${jsonString(v)}}}`
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
