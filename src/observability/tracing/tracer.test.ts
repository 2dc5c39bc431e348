// The tracer's client spans against a real OTLP receiver: each attempt's span is exported once,
// under the server span, whether the attempt ends before the request is recorded (the usual case:
// encoded with the server span) or after it (an attempt whose abort came late).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Tracer, type AttemptFacts } from './tracer.js';
import { startOtlpReceiver } from '../../../test/helpers/otlp-receiver.js';
import type { RequestRecord } from '../request-record.js';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

const record = (status: number): RequestRecord => ({
  requestId: 'r1',
  traceId: undefined,
  clientIp: '10.0.0.7',
  peerIp: undefined,
  consumer: undefined,
  method: 'GET',
  scheme: 'http',
  protocol: '1.1',
  host: 'api.example.com',
  path: '/items/1',
  query: '',
  route: 'items',
  service: 'up',
  target: 'http://127.0.0.1:9',
  status,
  bytesIn: 0,
  bytesOut: 10,
  durationMs: 2,
  upstreamMs: 1,
  rejectedBy: undefined,
  error: undefined,
  retries: 1,
  cache: undefined,
  userAgent: undefined,
  aborted: status === 0,
  trace: undefined,
  tracer: undefined,
});
const attempt = (n: number, status: number | undefined, error?: Error): AttemptFacts => ({
  method: 'GET',
  origin: 'http://127.0.0.1:9',
  path: '/items/1',
  attempt: n,
  status,
  error,
});

async function tracerWithReceiver() {
  const rx = await startOtlpReceiver();
  closers.push(() => rx.close());
  const tracer = new Tracer({
    exporter: 'otlp',
    endpoint: rx.url,
    protocol: 'http/protobuf',
    sampleRatio: 1,
    serviceName: 't',
    flushInterval: '1h',
    maxQueueSize: 100,
    maxBatchSize: 100,
  });
  closers.push(() => tracer.close());
  return { rx, tracer };
}

test('attempts that end before the request is recorded: one client span each, under the server span', async () => {
  const { rx, tracer } = await tracerWithReceiver();
  const t = tracer.start(undefined, undefined);
  tracer.startAttempt(t);
  tracer.endAttempt(t, attempt(1, 503));
  tracer.startAttempt(t);
  tracer.endAttempt(t, attempt(2, 200));
  tracer.endAttempt(t, attempt(2, 200)); // a second end of the same attempt adds nothing
  tracer.end(t, record(200));
  await tracer.exporter.flush();
  const server = rx.spans.filter((s) => s.kind === 2);
  const clients = rx.spans.filter((s) => s.kind === 3);
  assert.equal(server.length, 1);
  assert.equal(clients.length, 2);
  assert.ok(clients.every((c) => c.parentSpanId === server[0]!.spanId && c.traceId === t.traceId));
  assert.equal(new Set(clients.map((c) => c.spanId)).size, 2);
});

test('an attempt that ends after the request was recorded is still exported (not kept forever)', async () => {
  const { rx, tracer } = await tracerWithReceiver();
  const t = tracer.start(undefined, undefined);
  tracer.startAttempt(t);
  tracer.end(t, record(0)); // the client went away; the attempt was still queued upstream
  tracer.endAttempt(t, attempt(1, undefined, new Error('client went away')));
  assert.equal(t.attempts, undefined);
  await tracer.exporter.flush();
  const clients = rx.spans.filter((s) => s.kind === 3);
  assert.equal(clients.length, 1);
  assert.equal(clients[0]!.parentSpanId, rx.spans.find((s) => s.kind === 2)!.spanId);
  assert.equal(tracer.counts().dropped, 0);
});

test('network.protocol.version: "1.1" for HTTP/1.1, "2" for HTTP/2 (the semantic conventions\' value)', async () => {
  const { rx, tracer } = await tracerWithReceiver();
  for (const protocol of ['1.1', '2.0']) tracer.end(tracer.start(undefined, undefined), { ...record(200), protocol });
  await tracer.exporter.flush();
  const versions = rx.spans.map((s) => String(s.attributes.find((a) => a.key === 'network.protocol.version')?.value.stringValue));
  assert.deepEqual(versions.sort(), ['1.1', '2']);
});
