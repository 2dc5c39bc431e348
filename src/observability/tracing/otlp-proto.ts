// OTLP/HTTP with protobuf bodies (the OpenTelemetry SDKs' default, `http/protobuf`), encoded by
// hand: the gateway writes one message type (ExportTraceServiceRequest) with a few fields, so a
// protobuf library and its generated code would only add work. Field numbers are those of
// opentelemetry/proto/{trace,common,resource}/v1/*.proto.
//
// A span is encoded once, when it ends, straight into the batch it will be exported with
// (SpanBytes: the `spans` fields of ScopeSpans, back to back); an export copies that batch once
// behind a small header. The writers below take a buffer and a position and return the new
// position: kept in locals, the position never goes back and forth to an object per byte, which
// made encoding three times slower. Room for a whole span is made once, from an upper bound.
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

/** Encoded spans waiting to be exported together: each a `spans` field of ScopeSpans. */
export class SpanBytes {
  buf: Buffer;
  pos = 0;
  /** Spans in `buf`. */
  count = 0;

  constructor(size = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  add(s: SpanRecord): void {
    const need = this.pos + maxSpanBytes(s);
    if (need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, need));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    this.pos = writeSpan(this.buf, this.pos, s);
    this.count++;
  }
}

/**
 * An upper bound of a span's encoded size: strings at three bytes a character (UTF-8 of UTF-16),
 * every length and tag at its widest. Nested messages get slack: see `endMessage`.
 */
function maxSpanBytes(s: SpanRecord): number {
  let n = 128 + 3 * (s.name.length + (s.traceState?.length ?? 0) + (s.error?.length ?? 0));
  if (s.exception !== undefined) n += 128 + 3 * (s.exception.type.length + s.exception.message.length);
  return n + maxAttributesBytes(s.attributes);
}

function maxAttributesBytes(a: AttributeList): number {
  let n = 0;
  for (let i = 0; i < a.length; i += 2) {
    const v = a[i + 1];
    if (v !== undefined) n += 3 * (a[i] as string).length + 32 + (typeof v === 'string' ? 3 * v.length : 10);
  }
  return n;
}

/** Writes one span (tag, length, Span message) at `p`; returns its end. */
function writeSpan(buf: Buffer, p: number, s: SpanRecord): number {
  const start = p;
  p = startMessage(p);
  p = writeId(buf, p, T_SPAN_TRACE_ID, s.traceId);
  p = writeId(buf, p, T_SPAN_SPAN_ID, s.spanId);
  if (s.traceState) p = writeString(buf, p, T_SPAN_TRACE_STATE, s.traceState);
  if (s.parentSpanId) p = writeId(buf, p, T_SPAN_PARENT_ID, s.parentSpanId);
  p = writeString(buf, p, T_SPAN_NAME, s.name);
  buf[p++] = T_SPAN_KIND;
  buf[p++] = s.kind;
  buf[p++] = T_SPAN_START;
  p = writeNanos(buf, p, s.startMs);
  buf[p++] = T_SPAN_END;
  p = writeNanos(buf, p, s.endMs);
  p = writeAttributes(buf, p, T_SPAN_ATTRIBUTE, s.attributes);
  if (s.exception !== undefined) {
    const event = p;
    p = startMessage(p);
    buf[p++] = T_EVENT_TIME;
    p = writeNanos(buf, p, s.endMs);
    p = writeString(buf, p, T_EVENT_NAME, 'exception');
    p = writeAttributes(buf, p, T_EVENT_ATTRIBUTE, ['exception.type', s.exception.type, 'exception.message', s.exception.message]);
    p = endMessage(buf, event, p, T_SPAN_EVENT);
  }
  // Per the HTTP conventions a span is left UNSET (no status) unless it failed (ERROR, 2).
  if (s.error !== undefined) {
    const status = p;
    p = startMessage(p);
    p = writeString(buf, p, T_STATUS_MESSAGE, s.error);
    buf[p++] = T_STATUS_CODE;
    buf[p++] = 2;
    p = endMessage(buf, status, p, T_SPAN_STATUS);
  }
  return endMessage(buf, start, p, T_SS_SPAN);
}

// A nested message's length comes before it but is known only after it. Its body is written
// after room for the tag and a two-byte length (128 to 16383 bytes, the usual span); other
// lengths move the body once.
function startMessage(p: number): number {
  return p + 3;
}

/** Writes the tag and length of the message whose body runs from start + 3 to end; returns its end. */
function endMessage(buf: Buffer, start: number, end: number, tag: number): number {
  const body = start + 3;
  const length = end - body;
  const lengthBytes = varintLength(length);
  if (lengthBytes !== 2) buf.copyWithin(start + 1 + lengthBytes, body, end);
  buf[start] = tag;
  writeVarint(buf, start + 1, length);
  return start + 1 + lengthBytes + length;
}

/** A non-negative integer below 2^31 (lengths, tags' values). */
function writeVarint(buf: Buffer, p: number, n: number): number {
  while (n >= 0x80) {
    buf[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[p++] = n;
  return p;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

/** An int64 (an attribute value): varint, ten bytes of two's complement when negative. */
function writeInt64(buf: Buffer, p: number, n: number): number {
  if (n < 0) {
    let v = BigInt.asUintN(64, BigInt(n));
    while (v >= 0x80n) {
      buf[p++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    buf[p++] = Number(v);
    return p;
  }
  while (n >= 0x80) {
    buf[p++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[p++] = n;
  return p;
}

function int64Length(n: number): number {
  return n >= 0 ? varintLength(n) : 10;
}

/** Epoch milliseconds (fractional) as fixed64 nanoseconds, without leaving exact doubles. */
function writeNanos(buf: Buffer, p: number, ms: number): number {
  const whole = Math.floor(ms);
  const frac = Math.min(999_999, Math.round((ms - whole) * 1e6));
  // whole × 10^6 + frac = hi × 2^32 + lo, computed in parts that stay below 2^53.
  const wLo = whole % 0x10000;
  const a = Math.floor(whole / 0x10000) * 1e6; // × 2^16
  const aLo = a % 0x10000;
  const low = aLo * 0x10000 + wLo * 1e6 + frac;
  const lo = low % 0x100000000;
  const hi = Math.floor(a / 0x10000) + Math.floor(low / 0x100000000);
  buf[p] = lo & 0xff;
  buf[p + 1] = (lo >>> 8) & 0xff;
  buf[p + 2] = (lo >>> 16) & 0xff;
  buf[p + 3] = lo >>> 24;
  buf[p + 4] = hi & 0xff;
  buf[p + 5] = (hi >>> 8) & 0xff;
  buf[p + 6] = (hi >>> 16) & 0xff;
  buf[p + 7] = hi >>> 24;
  return p + 8;
}

/** Hex digit values by character code (ids are lowercase hex). */
const HEX = new Uint8Array(128);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = HEX['0123456789ABCDEF'.charCodeAt(i)] = i;

/** A hex id (trace and span ids, from trace-context.ts) as a bytes field. */
function writeId(buf: Buffer, p: number, tag: number, id: string): number {
  const n = id.length >> 1;
  buf[p++] = tag;
  buf[p++] = n; // 16 or 8
  for (let i = 0; i < n; i++) buf[p + i] = (HEX[id.charCodeAt(2 * i)]! << 4) | HEX[id.charCodeAt(2 * i + 1)]!;
  return p + n;
}

/** A string field: tag, UTF-8 length, bytes. */
function writeString(buf: Buffer, p: number, tag: number, s: string): number {
  buf[p] = tag;
  const end = writeAscii(buf, writeVarint(buf, p + 1, s.length), s);
  if (end >= 0) return end;
  const n = Buffer.byteLength(s, 'utf8');
  const q = writeVarint(buf, p + 1, n);
  return q + buf.write(s, q, n, 'utf8');
}

/**
 * Copies `s` as single bytes when it is ASCII (the usual case: cheaper than a call into C++);
 * returns the end, or -1 at the first other character (the caller writes UTF-8 instead).
 */
function writeAscii(buf: Buffer, p: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return -1;
    buf[p + i] = c;
  }
  return p + n;
}

/** KeyValue.key fields (tag, length, bytes) by key: keys are the tracer's constants. */
const KEYS = new Map<string, Buffer>();
function keyField(key: string): Buffer {
  let k = KEYS.get(key);
  if (k === undefined) {
    const b = Buffer.allocUnsafe(3 * key.length + 6);
    k = Buffer.from(b.subarray(0, writeString(b, 0, T_KV_KEY, key)));
    if (KEYS.size < 1024) KEYS.set(key, k);
  }
  return k;
}

function writeBytes(buf: Buffer, p: number, src: Uint8Array): number {
  const n = src.length;
  // Short runs are copied in JS: cheaper than a call into C++.
  if (n <= 32) for (let i = 0; i < n; i++) buf[p + i] = src[i]!;
  else buf.set(src, p);
  return p + n;
}

function writeAttributes(buf: Buffer, p: number, tag: number, a: AttributeList): number {
  for (let i = 0; i < a.length; i += 2) {
    const v = a[i + 1];
    if (v === undefined) continue;
    const key = keyField(a[i] as string);
    if (typeof v === 'string') {
      const end = writeStringAttribute(buf, p, tag, key, v, v.length);
      p = end >= 0 ? end : writeStringAttribute(buf, p, tag, key, v, Buffer.byteLength(v, 'utf8'));
    } else {
      p = writeOtherAttribute(buf, p, tag, key, v);
    }
  }
  return p;
}

/**
 * KeyValue { key, value: AnyValue { string_value } }, `n` the value's UTF-8 length. Called first
 * with the string's length (right when it is ASCII): -1 when it is not, and the caller calls again
 * with the real one.
 */
function writeStringAttribute(buf: Buffer, p: number, tag: number, key: Buffer, v: string, n: number): number {
  const valueLength = 1 + varintLength(n) + n;
  buf[p++] = tag;
  p = writeVarint(buf, p, key.length + 1 + varintLength(valueLength) + valueLength);
  p = writeBytes(buf, p, key);
  buf[p++] = T_KV_VALUE;
  p = writeVarint(buf, p, valueLength);
  buf[p++] = T_ANY_STRING;
  p = writeVarint(buf, p, n);
  return n === v.length ? writeAscii(buf, p, v) : p + buf.write(v, p, n, 'utf8');
}

function writeOtherAttribute(buf: Buffer, p: number, tag: number, key: Buffer, v: Exclude<AttributeValue, string>): number {
  const valueLength = typeof v === 'boolean' ? 2 : Number.isInteger(v) ? 1 + int64Length(v) : 9;
  buf[p++] = tag;
  p = writeVarint(buf, p, key.length + 1 + varintLength(valueLength) + valueLength);
  p = writeBytes(buf, p, key);
  buf[p++] = T_KV_VALUE;
  p = writeVarint(buf, p, valueLength);
  if (typeof v === 'boolean') {
    buf[p++] = T_ANY_BOOL;
    buf[p++] = v ? 1 : 0;
  } else if (Number.isInteger(v)) {
    buf[p++] = T_ANY_INT;
    p = writeInt64(buf, p, v);
  } else {
    buf[p++] = T_ANY_DOUBLE;
    p = buf.writeDoubleLE(Number.isFinite(v) ? v : 0, p);
  }
  return p;
}

/** The parts of every request that do not change: the resource and the instrumentation scope. */
export interface RequestHead {
  /** Resource message, with its field tag and length (ResourceSpans.resource). */
  resource: Buffer;
  /** InstrumentationScope message, with its field tag and length (ScopeSpans.scope). */
  scope: Buffer;
}

export function encodeHead(resource: AttributeList, scope: { name: string; version: string }): RequestHead {
  const r = Buffer.allocUnsafe(maxAttributesBytes(resource) + 16);
  const rEnd = endMessage(r, 0, writeAttributes(r, startMessage(0), T_RESOURCE_ATTRIBUTE, resource), T_RS_RESOURCE);
  const s = Buffer.allocUnsafe(3 * (scope.name.length + scope.version.length) + 32);
  let p = startMessage(0);
  p = writeString(s, p, T_SCOPE_NAME, scope.name);
  p = writeString(s, p, T_SCOPE_VERSION, scope.version);
  return { resource: r.subarray(0, rEnd), scope: s.subarray(0, endMessage(s, 0, p, T_SS_SCOPE)) };
}

/** An ExportTraceServiceRequest body: the head and the spans of one batch. */
export function encodeRequest(head: RequestHead, spans: SpanBytes): Buffer {
  const scopeSpans = head.scope.length + spans.pos;
  const resourceSpans = head.resource.length + 1 + varintLength(scopeSpans) + scopeSpans;
  const out = Buffer.allocUnsafe(1 + varintLength(resourceSpans) + resourceSpans);
  out[0] = T_REQUEST_RESOURCE_SPANS;
  let p = writeVarint(out, 1, resourceSpans);
  p += head.resource.copy(out, p);
  out[p++] = T_RS_SCOPE_SPANS;
  p = writeVarint(out, p, scopeSpans);
  p += head.scope.copy(out, p);
  p += spans.buf.copy(out, p, 0, spans.pos);
  return out.subarray(0, p);
}
