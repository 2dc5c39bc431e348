// The protobuf encoding of exported spans, decoded by an independent decoder (protobufjs, from the
// OTLP field numbers) and compared with what was recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanBytes, encodeHead, encodeRequest } from '../src/observability/tracing/otlp-proto.js';
import { nanos } from '../src/observability/tracing/otlp-exporter.js';
import type { SpanRecord } from '../src/observability/tracing/span.js';
import { decodeProtobufExport } from './helpers/otlp-receiver.js';

const base: SpanRecord = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  parentSpanId: undefined,
  traceState: undefined,
  name: 'GET items',
  kind: 2,
  startMs: 1764567890123.4568, // the double nearest 1764567890123.456789
  endMs: 1764567890124.5,
  attributes: ['http.request.method', 'GET', 'http.response.status_code', 200],
  error: undefined,
  exception: undefined,
};

function roundTrip(spans: SpanRecord[], initialSize?: number) {
  const head = encodeHead(['service.name', 'edge-gw', 'service.version', '1.2.3'], { name: 'gatehouse', version: '1.2.3' });
  const bytes = new SpanBytes(initialSize);
  for (const s of spans) bytes.add(s);
  assert.equal(bytes.count, spans.length);
  const doc = decodeProtobufExport(encodeRequest(head, bytes));
  assert.equal(doc.resourceSpans.length, 1);
  const rs = doc.resourceSpans[0]!;
  assert.deepEqual(rs.resource.attributes, [
    { key: 'service.name', value: { stringValue: 'edge-gw' } },
    { key: 'service.version', value: { stringValue: '1.2.3' } },
  ]);
  assert.deepEqual(rs.scopeSpans[0]!.scope, { name: 'gatehouse', version: '1.2.3' });
  return rs.scopeSpans[0]!.spans;
}

test('a span round-trips: ids, name, kind, times to the nanosecond, typed attributes', () => {
  const [s] = roundTrip([
    {
      ...base,
      parentSpanId: 'b7ad6b7169203331',
      traceState: 'vendor=abc',
      attributes: [
        'http.request.method',
        'GET',
        'url.path',
        '/é/日本/🙂', // non-ASCII: UTF-8 bytes, counted as such
        'server.port',
        8080,
        'gatehouse.negative',
        -5, // int64 two's complement
        'gatehouse.ratio',
        0.25,
        'gatehouse.flag',
        true,
        'gatehouse.absent',
        undefined,
        'gatehouse.big',
        2 ** 40 + 3,
      ],
    },
  ]);
  assert.equal(s!.traceId, base.traceId);
  assert.equal(s!.spanId, base.spanId);
  assert.equal(s!.parentSpanId, 'b7ad6b7169203331');
  assert.equal(s!.traceState, 'vendor=abc');
  assert.equal(s!.name, 'GET items');
  assert.equal(s!.kind, 2);
  assert.equal(s!.startTimeUnixNano, nanos(base.startMs));
  assert.equal(s!.endTimeUnixNano, '1764567890124500000');
  assert.deepEqual(s!.attributes, [
    { key: 'http.request.method', value: { stringValue: 'GET' } },
    { key: 'url.path', value: { stringValue: '/é/日本/🙂' } },
    { key: 'server.port', value: { intValue: '8080' } },
    { key: 'gatehouse.negative', value: { intValue: '-5' } },
    { key: 'gatehouse.ratio', value: { doubleValue: 0.25 } },
    { key: 'gatehouse.flag', value: { boolValue: true } },
    { key: 'gatehouse.big', value: { intValue: String(2 ** 40 + 3) } },
  ]);
  assert.deepEqual(s!.status, { code: 0 }, 'unset unless failed');
  assert.deepEqual(s!.events, []);
});

test('a failed span: ERROR status with its message and an exception event', () => {
  const [s] = roundTrip([
    { ...base, error: 'connect ECONNREFUSED', exception: { type: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' } },
  ]);
  assert.deepEqual(s!.status, { code: 2, message: 'connect ECONNREFUSED' });
  assert.equal(s!.events.length, 1);
  assert.equal(s!.events[0]!.name, 'exception');
  assert.deepEqual(s!.events[0]!.attributes, [
    { key: 'exception.type', value: { stringValue: 'ECONNREFUSED' } },
    { key: 'exception.message', value: { stringValue: 'connect ECONNREFUSED 127.0.0.1:1' } },
  ]);
});

test('many spans in one request, some larger than 127 bytes of attributes (multi-byte lengths)', () => {
  const spans = Array.from({ length: 300 }, (_, i) => ({
    ...base,
    spanId: i.toString(16).padStart(16, '0').replace(/^0/, '1'),
    startMs: base.startMs + i,
    attributes: ['url.full', `http://x/${'a'.repeat(i)}`, 'http.request.resend_count', i],
  }));
  const out = roundTrip(spans);
  assert.equal(out.length, 300);
  for (let i = 0; i < 300; i++) {
    assert.equal(out[i]!.spanId, spans[i]!.spanId);
    assert.equal(out[i]!.startTimeUnixNano, nanos(spans[i]!.startMs));
    assert.equal(out[i]!.attributes[0]!.value.stringValue, `http://x/${'a'.repeat(i)}`);
  }
});

test('lengths of one, two and three bytes; non-ASCII everywhere; a batch grown from a tiny buffer', () => {
  const tiny: SpanRecord = { ...base, name: 'x', attributes: [] }; // a body under 128 bytes
  const huge = 'ü'.repeat(9000) + '🙂'; // an attribute of 18 KB: a span over 16383 bytes
  const spans: SpanRecord[] = [
    tiny,
    { ...base, name: 'GET ünïcode', traceState: 'v=1', attributes: ['url.path', huge, 'ключ', 'значение', 'server.port', 443] },
    { ...base, error: 'échec 🙂', exception: { type: 'Ërror', message: 'm'.repeat(200) + 'é' } },
    tiny,
  ];
  const out = roundTrip(spans, 16);
  assert.equal(out.length, 4);
  assert.equal(out[0]!.name, 'x');
  assert.deepEqual(out[0]!.attributes, []);
  assert.equal(out[1]!.name, 'GET ünïcode');
  assert.equal(out[1]!.traceState, 'v=1');
  assert.deepEqual(out[1]!.attributes, [
    { key: 'url.path', value: { stringValue: huge } },
    { key: 'ключ', value: { stringValue: 'значение' } },
    { key: 'server.port', value: { intValue: '443' } },
  ]);
  assert.deepEqual(out[2]!.status, { code: 2, message: 'échec 🙂' });
  assert.deepEqual(out[2]!.events[0]!.attributes, [
    { key: 'exception.type', value: { stringValue: 'Ërror' } },
    { key: 'exception.message', value: { stringValue: 'm'.repeat(200) + 'é' } },
  ]);
  assert.equal(out[3]!.spanId, base.spanId);
});

test('exporter: spans leave in batches of maxBatchSize; a full queue drops (and counts) the rest', async () => {
  const { OtlpExporter } = await import('../src/observability/tracing/otlp-exporter.js');
  const e = new OtlpExporter({
    endpoint: 'http://127.0.0.1:1/v1/traces',
    serviceName: 's',
    flushIntervalMs: 60_000,
    maxQueueSize: 5,
    maxBatchSize: 2,
  });
  const x = e as unknown as { send(batch: SpanBytes): Promise<void> };
  const sizes: number[] = [];
  const names: string[][] = [];
  const head = encodeHead([], { name: 'g', version: '1' });
  x.send = (batch) => {
    sizes.push(batch.count);
    names.push(decodeProtobufExport(encodeRequest(head, batch)).resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.name));
    return Promise.resolve();
  };
  e.add({ ...base, name: 'a' });
  e.add({ ...base, name: 'b' }); // full: sent on the next turn
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sizes, [2]);
  for (const n of ['c', 'd', 'e', 'f', 'g', 'h']) e.add({ ...base, name: n }); // room for five
  assert.equal(e.dropped, 1);
  await e.close();
  assert.deepEqual(names, [['a', 'b'], ['c', 'd'], ['e', 'f'], ['g']]);
});

test('nanosecond times are exact across the range of epoch milliseconds', () => {
  // 1764567890124: what 1764567890123.999999 is as a double (at this magnitude doubles are 1/4096 ms apart).
  for (const ms of [0.000001, 1, 999.999999, 1764567890124, 4102444800000.5, 2 ** 41 + 0.123456]) {
    const [s] = roundTrip([{ ...base, startMs: ms, endMs: ms }]);
    const whole = BigInt(Math.floor(ms));
    const frac = BigInt(Math.min(999_999, Math.round((ms - Math.floor(ms)) * 1e6)));
    assert.equal(s!.startTimeUnixNano, String(whole * 1_000_000n + frac), `ms ${ms}`);
  }
});

test('exporter: a close() asked for just as a drain ends still sends every queued span', async () => {
  const { OtlpExporter } = await import('../src/observability/tracing/otlp-exporter.js');
  for (let depth = 0; depth < 4; depth++) {
    const e = new OtlpExporter({
      endpoint: 'http://127.0.0.1:1/v1/traces',
      serviceName: 's',
      flushIntervalMs: 60_000,
      maxQueueSize: 100,
      maxBatchSize: 2,
    });
    // The network is replaced: the first export waits until released, the others end at once.
    const x = e as unknown as { send(batch: SpanBytes): Promise<void>; running: Promise<void> | undefined; queued: number };
    let sent = 0;
    let release!: () => void;
    let first = true;
    x.send = (batch) => {
      if (!first) {
        sent += batch.count;
        return Promise.resolve();
      }
      first = false;
      return new Promise<void>((r) => {
        release = () => {
          sent += batch.count;
          r();
        };
      });
    };
    e.add(base);
    e.add(base); // a full batch: its drain starts on the next turn
    await new Promise((r) => setImmediate(r));
    e.add(base); // a partial batch, left for the interval by that drain
    const running = x.running!;
    release();
    let p = Promise.resolve();
    for (let i = 0; i < depth; i++) p = p.then(() => undefined);
    const closed = p.then(() => e.close());
    await running;
    await closed;
    assert.equal(sent, 3, `close at microtask depth ${depth}: every span sent`);
    assert.equal(x.queued, 0);
  }
});
