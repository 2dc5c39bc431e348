// OTLP/HTTP with protobuf bodies (the OpenTelemetry SDKs' default, `http/protobuf`), encoded by
// hand: the gateway writes one message type (ExportTraceServiceRequest) with a few fields, so a
// protobuf library and its generated code would only add work. Field numbers are those of
// opentelemetry/proto/{trace,common,resource}/v1/*.proto.
//
// A span is encoded once, when it ends, into its own bytes (the `spans` field of ScopeSpans,
// prefix included); a batch is those bytes copied behind a small header. Compared with OTLP/JSON
// the body is about half the size and no long string has to be built, flattened and re-encoded.
import type { AttributeList, AttributeValue, SpanRecord } from './span.js';

// Wire types: 0 varint, 1 fixed64, 2 length-delimited. A tag is (field << 3) | wire type.
const T_SPAN_TRACE_ID = 0x0a; // 1, bytes
const T_SPAN_SPAN_ID = 0x12; // 2, bytes
const T_SPAN_TRACE_STATE = 0x1a; // 3, string
const T_SPAN_PARENT_ID = 0x22; // 4, bytes
const T_SPAN_NAME = 0x2a; // 5, string
const T_SPAN_KIND = 0x30; // 6, enum
const T_SPAN_START = 0x39; // 7, fixed64
const T_SPAN_END = 0x41; // 8, fixed64
const T_SPAN_ATTRIBUTE = 0x4a; // 9, KeyValue
const T_SPAN_EVENT = 0x5a; // 11, Event
const T_SPAN_STATUS = 0x7a; // 15, Status
const T_EVENT_TIME = 0x09; // Event.time_unix_nano = 1, fixed64
const T_EVENT_NAME = 0x12; // Event.name = 2
const T_EVENT_ATTRIBUTE = 0x1a; // Event.attributes = 3
const T_STATUS_MESSAGE = 0x12; // Status.message = 2
const T_STATUS_CODE = 0x18; // Status.code = 3
const T_KV_KEY = 0x0a; // KeyValue.key = 1
const T_KV_VALUE = 0x12; // KeyValue.value = 2 (AnyValue)
const T_ANY_STRING = 0x0a; // AnyValue.string_value = 1
const T_ANY_BOOL = 0x10; // AnyValue.bool_value = 2
const T_ANY_INT = 0x18; // AnyValue.int_value = 3
const T_ANY_DOUBLE = 0x21; // AnyValue.double_value = 4
const T_REQUEST_RESOURCE_SPANS = 0x0a; // ExportTraceServiceRequest.resource_spans = 1
const T_RS_RESOURCE = 0x0a; // ResourceSpans.resource = 1
const T_RS_SCOPE_SPANS = 0x12; // ResourceSpans.scope_spans = 2
const T_RESOURCE_ATTRIBUTE = 0x0a; // Resource.attributes = 1
const T_SS_SCOPE = 0x0a; // ScopeSpans.scope = 1
const T_SS_SPAN = 0x12; // ScopeSpans.spans = 2
const T_SCOPE_NAME = 0x0a; // InstrumentationScope.name = 1
const T_SCOPE_VERSION = 0x12; // InstrumentationScope.version = 2

/** A growable byte buffer with the few protobuf writes the exporter needs. */
class Out {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** A non-negative integer below 2^53. */
  varint(n: number): void {
    this.room(8);
    const buf = this.buf;
    while (n >= 0x80) {
      buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    buf[this.pos++] = n;
  }

  /** An int64 that may be negative (two's complement, ten bytes). */
  int64(n: number): void {
    if (n >= 0) return this.varint(n);
    let v = BigInt.asUintN(64, BigInt(n));
    this.room(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  double(n: number): void {
    this.room(8);
    this.buf.writeDoubleLE(n, this.pos);
    this.pos += 8;
  }

  /** Epoch milliseconds (fractional) as fixed64 nanoseconds, without leaving exact doubles. */
  nanos(ms: number): void {
    this.room(8);
    const whole = Math.floor(ms);
    const frac = Math.min(999_999, Math.round((ms - whole) * 1e6));
    // whole × 10^6 + frac = hi × 2^32 + lo, computed in parts that stay below 2^53.
    const wLo = whole % 0x10000;
    const a = Math.floor(whole / 0x10000) * 1e6; // × 2^16
    const aLo = a % 0x10000;
    const low = aLo * 0x10000 + wLo * 1e6 + frac;
    const lo = low % 0x100000000;
    const hi = Math.floor(a / 0x10000) + Math.floor(low / 0x100000000);
    this.buf.writeUInt32LE(lo, this.pos);
    this.buf.writeUInt32LE(hi, this.pos + 4);
    this.pos += 8;
  }

  /** Hex ids (trace and span ids, lowercase hex from trace-context.ts) as bytes. */
  hex(tag: number, id: string): void {
    const n = id.length >> 1;
    this.byte(tag);
    this.varint(n);
    this.room(n);
    const buf = this.buf;
    for (let i = 0; i < n; i++) buf[this.pos + i] = (HEX[id.charCodeAt(2 * i)]! << 4) | HEX[id.charCodeAt(2 * i + 1)]!;
    this.pos += n;
  }

  /** A length-delimited string field. */
  string(tag: number, s: string): void {
    this.byte(tag);
    this.stringBody(s, utf8Length(s));
  }

  /** A string's length (`n`, its UTF-8 byte count) and bytes. */
  stringBody(s: string, n: number): void {
    this.varint(n);
    this.room(n);
    if (n === s.length && n <= 16) {
      // Short ASCII: copied here, cheaper than a call into C++.
      const buf = this.buf;
      for (let i = 0; i < n; i++) buf[this.pos + i] = s.charCodeAt(i);
      this.pos += n;
    } else if (n === s.length) {
      this.pos += this.buf.write(s, this.pos, n, 'latin1');
    } else {
      this.pos += this.buf.write(s, this.pos, n, 'utf8');
    }
  }

  bytes(src: Uint8Array): void {
    const n = src.length;
    this.room(n);
    const buf = this.buf;
    // Short runs are copied in JS: cheaper than a call into C++.
    if (n <= 16) for (let i = 0; i < n; i++) buf[this.pos + i] = src[i]!;
    else buf.set(src, this.pos);
    this.pos += n;
  }
}

/** Hex digit values by character code (ids are lowercase hex). */
const HEX = new Uint8Array(128);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = HEX['0123456789ABCDEF'.charCodeAt(i)] = i;

/** UTF-8 length; plain ASCII (the usual case) is counted without a call into C++. */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

function int64Length(n: number): number {
  return n >= 0 ? varintLength(n) : 10;
}

/** KeyValue.key fields (tag, length, bytes) by key: keys are the tracer's constants. */
const KEYS = new Map<string, Buffer>();
function keyField(key: string): Buffer {
  let k = KEYS.get(key);
  if (k === undefined) {
    const o = new Out(key.length * 3 + 8);
    o.string(T_KV_KEY, key);
    k = Buffer.from(o.buf.subarray(0, o.pos));
    if (KEYS.size < 1024) KEYS.set(key, k);
  }
  return k;
}

function writeAttribute(out: Out, tag: number, key: string, v: AttributeValue): void {
  const k = keyField(key);
  if (typeof v === 'string') {
    const n = utf8Length(v);
    const valueLength = 1 + varintLength(n) + n; // AnyValue { string_value }
    out.byte(tag);
    out.varint(k.length + 1 + varintLength(valueLength) + valueLength);
    out.bytes(k);
    out.byte(T_KV_VALUE);
    out.varint(valueLength);
    out.byte(T_ANY_STRING);
    out.stringBody(v, n);
    return;
  }
  const valueLength = typeof v === 'boolean' ? 2 : Number.isInteger(v) ? 1 + int64Length(v) : 9;
  out.byte(tag);
  out.varint(k.length + 1 + varintLength(valueLength) + valueLength);
  out.bytes(k);
  out.byte(T_KV_VALUE);
  out.varint(valueLength);
  if (typeof v === 'boolean') {
    out.byte(T_ANY_BOOL);
    out.byte(v ? 1 : 0);
  } else if (Number.isInteger(v)) {
    out.byte(T_ANY_INT);
    out.int64(v);
  } else {
    out.byte(T_ANY_DOUBLE);
    out.double(Number.isFinite(v) ? v : 0);
  }
}

function writeAttributes(out: Out, tag: number, a: AttributeList): void {
  for (let i = 0; i < a.length; i += 2) {
    const v = a[i + 1];
    if (v !== undefined) writeAttribute(out, tag, a[i] as string, v);
  }
}

/** Scratch space for one span (grown on demand, reused). */
const scratch = new Out(1024);

/** One span as the `spans` field of ScopeSpans: tag, length, Span message. */
export function encodeSpan(s: SpanRecord): Buffer {
  const out = scratch;
  out.pos = 0;
  out.hex(T_SPAN_TRACE_ID, s.traceId);
  out.hex(T_SPAN_SPAN_ID, s.spanId);
  if (s.traceState) out.string(T_SPAN_TRACE_STATE, s.traceState);
  if (s.parentSpanId) out.hex(T_SPAN_PARENT_ID, s.parentSpanId);
  out.string(T_SPAN_NAME, s.name);
  out.byte(T_SPAN_KIND);
  out.byte(s.kind);
  out.byte(T_SPAN_START);
  out.nanos(s.startMs);
  out.byte(T_SPAN_END);
  out.nanos(s.endMs);
  writeAttributes(out, T_SPAN_ATTRIBUTE, s.attributes);
  if (s.exception) {
    const event = new Out(128);
    event.byte(T_EVENT_TIME);
    event.nanos(s.endMs);
    event.string(T_EVENT_NAME, 'exception');
    writeAttributes(event, T_EVENT_ATTRIBUTE, ['exception.type', s.exception.type, 'exception.message', s.exception.message]);
    out.byte(T_SPAN_EVENT);
    out.varint(event.pos);
    out.bytes(event.buf.subarray(0, event.pos));
  }
  // Per the HTTP conventions a span is left UNSET (no status) unless it failed (ERROR, 2).
  if (s.error !== undefined) {
    out.byte(T_SPAN_STATUS);
    const n = utf8Length(s.error);
    out.varint(1 + varintLength(n) + n + 2);
    out.string(T_STATUS_MESSAGE, s.error);
    out.byte(T_STATUS_CODE);
    out.byte(2);
  }
  const body = out.pos;
  const span = Buffer.allocUnsafe(1 + varintLength(body) + body);
  span[0] = T_SS_SPAN;
  let p = 1;
  for (let n = body; ; ) {
    if (n < 0x80) {
      span[p++] = n;
      break;
    }
    span[p++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out.buf.copy(span, p, 0, body);
  return span;
}

/** The parts of every request that do not change: the resource and the instrumentation scope. */
export interface RequestHead {
  /** Resource message, with its field tag and length (ResourceSpans.resource). */
  resource: Buffer;
  /** InstrumentationScope message, with its field tag and length (ScopeSpans.scope). */
  scope: Buffer;
}

export function encodeHead(resource: AttributeList, scope: { name: string; version: string }): RequestHead {
  const r = new Out(256);
  writeAttributes(r, T_RESOURCE_ATTRIBUTE, resource);
  const s = new Out(64);
  s.string(T_SCOPE_NAME, scope.name);
  s.string(T_SCOPE_VERSION, scope.version);
  return { resource: field(T_RS_RESOURCE, r), scope: field(T_SS_SCOPE, s) };
}

function field(tag: number, body: Out): Buffer {
  const out = new Out(body.pos + 6);
  out.byte(tag);
  out.varint(body.pos);
  out.bytes(body.buf.subarray(0, body.pos));
  return out.buf.subarray(0, out.pos);
}

/** An ExportTraceServiceRequest body from encoded spans (encodeSpan). */
export function encodeRequest(head: RequestHead, spans: readonly Buffer[]): Buffer {
  let spanBytes = 0;
  for (let i = 0; i < spans.length; i++) spanBytes += spans[i]!.length;
  const scopeSpans = head.scope.length + spanBytes;
  const resourceSpans = head.resource.length + 1 + varintLength(scopeSpans) + scopeSpans;
  const out = new Out(1 + varintLength(resourceSpans) + resourceSpans);
  out.byte(T_REQUEST_RESOURCE_SPANS);
  out.varint(resourceSpans);
  out.bytes(head.resource);
  out.byte(T_RS_SCOPE_SPANS);
  out.varint(scopeSpans);
  out.bytes(head.scope);
  for (let i = 0; i < spans.length; i++) out.bytes(spans[i]!);
  return out.buf.subarray(0, out.pos);
}
