import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, formatLine, millis, accessLogSettings, isoTimeOf } from './access-log.js';
import { jsonString } from './json-text.js';
import { ACCESS_LOG_FIELDS } from '../config/observability-schema.js';
import type { RequestRecord } from './request-record.js';

const record = (o: Partial<RequestRecord> = {}): RequestRecord => ({
  requestId: 'a1b2c3d4-e5f6-4711-8899-aabbccddeeff',
  traceId: '0af7651916cd43dd8448eb211c80319c',
  clientIp: '10.0.0.7',
  peerIp: '127.0.0.1',
  consumer: 'acme',
  method: 'GET',
  scheme: 'http',
  protocol: '1.1',
  host: 'api.example.com',
  path: '/items/42',
  query: 'a=1',
  route: 'items',
  service: 'items-svc',
  target: 'http://10.0.0.9:8080',
  status: 200,
  bytesIn: 12,
  bytesOut: 345,
  durationMs: 1.23456,
  upstreamMs: 0.5,
  rejectedBy: undefined,
  shadowLimited: undefined,
  error: undefined,
  retries: 0,
  cache: undefined,
  userAgent: 'curl/8',
  aborted: false,
  trace: undefined,
  tracer: undefined,
  ...o,
});

const codesOf = (fields?: string[]) =>
  Uint8Array.from(accessLogSettings(fields ? { fields: fields as never, sample: 1 } : true)!.fields, (f) => ACCESS_LOG_FIELDS.indexOf(f));

test('field codes are the indexes of ACCESS_LOG_FIELDS', () => {
  assert.equal(F.time, ACCESS_LOG_FIELDS.indexOf('time'));
  assert.equal(F.requestId, ACCESS_LOG_FIELDS.indexOf('requestId'));
  assert.equal(F.durationMs, ACCESS_LOG_FIELDS.indexOf('durationMs'));
  assert.equal(F.shadowLimited, ACCESS_LOG_FIELDS.indexOf('shadowLimited'));
  assert.equal(F.aborted, ACCESS_LOG_FIELDS.indexOf('aborted'));
  assert.equal(F.closeCode, ACCESS_LOG_FIELDS.indexOf('closeCode'));
  assert.equal(F.calls, ACCESS_LOG_FIELDS.indexOf('calls'));
  assert.equal(F.operation, ACCESS_LOG_FIELDS.indexOf('operation'));
  assert.equal(F.operation, ACCESS_LOG_FIELDS.length - 1);
});

test('calls is written for a composite route only: name, service, status or failure, ms', () => {
  const plain = JSON.parse(formatLine(record(), codesOf())) as Record<string, unknown>;
  assert.equal('calls' in plain, false);
  const calls = [
    { label: 'user', service: 'users', outcome: 200, ms: 12.345 },
    { label: 'recs', service: 'recs', outcome: 'timeout', ms: 300 },
  ];
  const line = JSON.parse(formatLine(record({ calls }), codesOf())) as { calls: unknown };
  assert.deepEqual(line.calls, [
    { name: 'user', service: 'users', status: 200, ms: 12.345 },
    { name: 'recs', service: 'recs', failed: 'timeout', ms: 300 },
  ]);
});

test('closeCode is written for a WebSocket line only (it is absent from any other record)', () => {
  const plain = JSON.parse(formatLine(record(), codesOf())) as Record<string, unknown>;
  assert.equal('closeCode' in plain, false);
  const socket = JSON.parse(formatLine(record({ status: 101, closeCode: 1001 }), codesOf())) as Record<string, unknown>;
  assert.equal(socket.closeCode, 1001);
  assert.equal(socket.status, 101);
});

test('a line is the JSON of the chosen fields, in order, absent ones left out, times rounded to µs', () => {
  const line = formatLine(record(), codesOf());
  assert.ok(line.endsWith('}\n'));
  const doc = JSON.parse(line) as Record<string, unknown>;
  assert.match(doc.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  delete doc.time;
  assert.deepEqual(Object.keys(doc), [
    'requestId',
    'traceId',
    'clientIp',
    'consumer',
    'method',
    'protocol',
    'host',
    'path',
    'route',
    'service',
    'target',
    'status',
    'bytesIn',
    'bytesOut',
    'durationMs',
    'upstreamMs',
    'retries',
    'aborted',
  ]);
  assert.equal(doc.protocol, 'HTTP/1.1');
  assert.equal((JSON.parse(formatLine(record({ protocol: '2.0' }), codesOf())) as Record<string, unknown>).protocol, 'HTTP/2.0');
  assert.equal(doc.durationMs, 1.235);
  assert.equal(doc.upstreamMs, 0.5);
  for (const n of [0, 7, 10, 99, 100, 1234567, 4294967295, 4294967296, 2 ** 53]) {
    const d = JSON.parse(formatLine(record({ bytesOut: n, retries: n }), codesOf(['bytesOut', 'retries']))) as Record<string, number>;
    assert.equal(d.bytesOut, n);
    assert.equal(d.retries, n);
  }
  const chosen = JSON.parse(
    formatLine(record({ error: 'GW_TIMEOUT', upstreamMs: undefined }), codesOf(['status', 'error', 'upstreamMs', 'userAgent'])),
  ) as Record<string, unknown>;
  assert.deepEqual(Object.keys(chosen), ['time', 'status', 'error', 'userAgent']);
});

test('hostile strings survive: quotes, backslashes, control characters, non-ASCII, lone surrogates — and the line stays ASCII', () => {
  const nasty = ['a"b', 'c\\d', 'e\nf\r\t', '\u0000\u001f\u007f', 'é日本🙂', '\ud800x', 'x\udfff', '</script>'];
  for (const s of nasty) {
    const line = formatLine(record({ path: s, userAgent: s, consumer: s, host: s }), codesOf(['path', 'userAgent', 'consumer', 'host']));
    assert.match(line, /^[\x20-\x7e]*\n$/, `ASCII only for ${JSON.stringify(s)}`);
    const doc = JSON.parse(line) as Record<string, string>;
    for (const k of ['path', 'userAgent', 'consumer', 'host'])
      assert.equal(doc[k], JSON.parse(JSON.stringify(s)), `${k} of ${JSON.stringify(s)}`);
    assert.equal(JSON.parse(jsonString(s)), JSON.parse(JSON.stringify(s)));
  }
});

test('millis: the same number JSON.stringify(Math.round(ms*1000)/1000) gives', () => {
  for (const ms of [0, 0.0004, 0.0005, 0.05, 0.1, 1, 1.5, 12.3456, 999.9995, 123456.789, 1e9 + 0.5, Number.NaN, Infinity]) {
    const want = JSON.stringify(Math.round(ms * 1000) / 1000);
    assert.equal(millis(ms), want, `ms ${ms}`);
  }
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.random() * 10 ** (i % 7);
    assert.equal(millis(ms), JSON.stringify(Math.round(ms * 1000) / 1000));
  }
});

test('isoTimeOf: the same text as toISOString, in order, out of order and across second, minute and year boundaries', () => {
  const times: number[] = [];
  const base = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
  for (let ms = base; ms < base + 2100; ms += 7) times.push(ms); // forwards, over two seconds and a year
  for (let ms = base + 2100; ms > base; ms -= 13) times.push(ms); // backwards
  times.push(0, 999, 1000, -1, -1000, -1001, 8.64e15, Date.UTC(1999, 0, 1, 0, 0, 0, 5));
  let seed = 7;
  for (let i = 0; i < 2000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    times.push(base + (seed % 5000) - 2500);
  }
  for (const ms of times) assert.equal(isoTimeOf(ms), new Date(ms).toISOString(), `at ${ms}`);
});
