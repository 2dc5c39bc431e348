// Tracing through a real gateway to a real OTLP/HTTP receiver: W3C traceparent accepted (valid
// ones only) or started, propagated upstream with the client span as parent, one server span and
// one client span per attempt, semconv attributes, errors recorded, sampling, trace id in the log.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startUpstream, echo, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startOtlpReceiver, attr, type OtlpReceiver, type OtlpSpan } from './helpers/otlp-receiver.js';
import { tempDir, waitFor } from './helpers/child.js';
import { parseTraceparent } from '../src/observability/tracing/trace-context.js';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

const PARENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';

async function setup(
  tracing: Record<string, unknown>,
  handler = echo,
  accessLog: unknown = false,
): Promise<{ gw: TestGateway; up: Upstream; rx: OtlpReceiver }> {
  const rx = await startOtlpReceiver();
  cleanup.push(() => rx.close());
  const up = await startUpstream(handler);
  cleanup.push(() => up.close());
  const gw = await startTestGateway({
    accessLog,
    tracing: { endpoint: rx.url, serviceName: 'edge-gw', ...tracing },
    services: {
      up: { targets: [{ url: up.url }], retries: { attempts: 2, on: [503], backoff: { base: '1ms', max: '2ms' } } },
    },
    routes: [{ name: 'items', match: { paths: ['/items/*'] }, service: 'up' }],
  });
  cleanup.push(() => gw.stop());
  return { gw, up, rx };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { headers });
  await res.body.dump();
  return res.statusCode;
}

/** Exports are batched: the gateway's flush sends what is queued. */
async function exported(gw: TestGateway, rx: OtlpReceiver, n: number): Promise<OtlpSpan[]> {
  const dp = (gw.instance.engine as unknown as { dp: { tracer: { exporter: { flush(): Promise<void> } } } }).dp;
  // The server span is recorded just after the response is finished: flush until all are in.
  return waitFor(`${n} spans`, async () => {
    await dp.tracer.exporter.flush();
    return rx.spans.length >= n ? rx.spans : undefined;
  });
}

for (const protocol of ['http/protobuf', 'http/json'] as const)
  test(`${protocol}: a sampled parent: server span under it, client span under the server span, upstream sees the client span`, async () => {
    const { gw, up, rx } = await setup(protocol === 'http/json' ? { sampleRatio: 0, protocol } : { sampleRatio: 0 });
    const status = await get(`${gw.url}/items/7?q=1`, {
      traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01`,
      tracestate: 'vendor=abc',
      'user-agent': 'tester/2',
    });
    assert.equal(status, 200);
    const spans = await exported(gw, rx, 2);
    assert.equal(spans.length, 2);
    const server = spans.find((s) => s.kind === 2)!;
    const client = spans.find((s) => s.kind === 3)!;
    assert.equal(server.service, 'edge-gw');
    assert.equal(server.traceId, PARENT_TRACE);
    assert.equal(server.parentSpanId, PARENT_SPAN);
    assert.equal(server.traceState, 'vendor=abc');
    assert.equal(server.name, 'GET items');
    assert.equal(attr(server, 'http.request.method'), 'GET');
    assert.equal(attr(server, 'url.path'), '/items/7');
    assert.equal(attr(server, 'url.query'), 'q=1');
    assert.equal(attr(server, 'url.scheme'), 'http');
    assert.equal(attr(server, 'http.response.status_code'), 200);
    assert.equal(attr(server, 'client.address'), '127.0.0.1');
    assert.equal(attr(server, 'user_agent.original'), 'tester/2');
    assert.equal(attr(server, 'gatehouse.route'), 'items');
    assert.equal(server.status.code, 0);
    assert.equal(client.traceId, PARENT_TRACE);
    assert.equal(client.parentSpanId, server.spanId);
    assert.equal(attr(client, 'http.request.method'), 'GET');
    assert.equal(attr(client, 'server.address'), '127.0.0.1');
    assert.equal(attr(client, 'server.port'), up.port);
    assert.equal(attr(client, 'url.full'), `${up.url}/items/7?q=1`);
    assert.equal(attr(client, 'http.response.status_code'), 200);
    assert.ok(BigInt(server.startTimeUnixNano) <= BigInt(client.startTimeUnixNano));
    assert.ok(BigInt(client.endTimeUnixNano) <= BigInt(server.endTimeUnixNano));
    // The upstream's parent is the client span, in the same trace, sampled.
    const sent = parseTraceparent(up.seen[0]!.headers.traceparent as string)!;
    assert.deepEqual(sent, { traceId: PARENT_TRACE, spanId: client.spanId, sampled: true });
    assert.equal(up.seen[0]!.headers.tracestate, 'vendor=abc');
    assert.deepEqual([...new Set(rx.contentTypes)], [protocol === 'http/json' ? 'application/json' : 'application/x-protobuf']);
  });

test('one client span per attempt; the failed one is an error; resend count set', async () => {
  let n = 0;
  const { gw, rx, up } = await setup({ sampleRatio: 1 }, (req, res) => {
    if (n++ === 0) {
      res.writeHead(503);
      res.end('busy');
    } else echo(req, res);
  });
  assert.equal(await get(`${gw.url}/items/1`), 200);
  const spans = await exported(gw, rx, 3);
  const server = spans.find((s) => s.kind === 2)!;
  const clients = spans.filter((s) => s.kind === 3);
  assert.equal(server.parentSpanId, undefined, 'a new trace: no parent');
  assert.equal(clients.length, 2);
  for (const c of clients) assert.equal(c.parentSpanId, server.spanId);
  const [first, second] = clients.sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1));
  assert.equal(attr(first!, 'http.response.status_code'), 503);
  assert.equal(first!.status.code, 2);
  assert.equal(attr(first!, 'error.type'), '503');
  assert.equal(attr(second!, 'http.request.resend_count'), 1);
  assert.equal(second!.status.code, 0);
  // Each attempt carried its own span id upstream.
  const ids = up.seen.map((s) => parseTraceparent(s.headers.traceparent as string)!.spanId);
  assert.deepEqual(ids.sort(), clients.map((c) => c.spanId).sort());
});

test('an upstream that cannot be reached: client span with the exception, server span an error with the gateway code', async () => {
  const rx = await startOtlpReceiver();
  cleanup.push(() => rx.close());
  const dead = await startUpstream();
  const deadUrl = dead.url;
  await dead.close();
  const gw = await startTestGateway({
    tracing: { endpoint: rx.url, sampleRatio: 1 },
    services: { down: { targets: [{ url: deadUrl }] } },
    routes: [{ name: 'down', service: 'down' }],
  });
  cleanup.push(() => gw.stop());
  assert.equal(await get(`${gw.url}/x`), 502);
  const spans = await exported(gw, rx, 2);
  const server = spans.find((s) => s.kind === 2)!;
  const client = spans.find((s) => s.kind === 3)!;
  assert.equal(server.status.code, 2);
  assert.equal(attr(server, 'error.type'), 'GW_UPSTREAM_UNAVAILABLE');
  assert.equal(attr(server, 'http.response.status_code'), 502);
  assert.equal(client.status.code, 2);
  assert.equal(attr(client, 'error.type'), 'ECONNREFUSED');
  assert.equal(client.events[0]!.name, 'exception');
});

test('sampleRatio 0 and no parent: nothing exported, yet the upstream gets an unsampled traceparent; an invalid one is replaced', async () => {
  const { gw, rx, up } = await setup({ sampleRatio: 0 });
  assert.equal(await get(`${gw.url}/items/1`), 200);
  assert.equal(await get(`${gw.url}/items/2`, { traceparent: `00-${'0'.repeat(32)}-${PARENT_SPAN}-01` }), 200);
  assert.equal(await get(`${gw.url}/items/3`, { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-00` }), 200);
  // A sampled request last: once its spans arrive, the earlier ones would have too.
  assert.equal(await get(`${gw.url}/items/4`, { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01` }), 200);
  const spans = await exported(gw, rx, 2);
  assert.equal(spans.length, 2);
  assert.ok(spans.every((s) => attr(s, 'url.path') === '/items/4' || s.kind === 3));
  const [a, b, c] = up.seen.map((s) => parseTraceparent(s.headers.traceparent as string)!);
  assert.equal(a!.sampled, false);
  assert.notEqual(b!.traceId, '0'.repeat(32), 'an invalid traceparent starts a new trace');
  assert.equal(b!.sampled, false);
  assert.equal(c!.traceId, PARENT_TRACE, 'an unsampled parent is followed: same trace, not sampled');
  assert.equal(c!.sampled, false);
});

test('the trace id is in the access log', async () => {
  const dir = await tempDir();
  cleanup.push(() => dir.remove());
  const file = join(dir.path, 'a.log');
  const { gw } = await setup({ sampleRatio: 0 }, echo, { path: file });
  assert.equal(await get(`${gw.url}/items/1`, { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01` }), 200);
  const line = await waitFor('a line', async () => (await readFile(file, 'utf8').catch(() => '')).trim());
  assert.equal((JSON.parse(line) as { traceId: string }).traceId, PARENT_TRACE);
});

test('a full queue drops spans and counts them, requests never wait', async () => {
  const { gw, rx } = await setup({ sampleRatio: 1, maxQueueSize: 2, flushInterval: '1h', maxBatchSize: 100 });
  for (let i = 0; i < 3; i++) assert.equal(await get(`${gw.url}/items/${i}`), 200);
  // 3 requests × 2 spans into a queue of 2.
  await exported(gw, rx, 2);
  const res = await request(`${gw.adminUrl}/metrics`);
  const text = await res.body.text();
  assert.match(text, /^gatehouse_tracing_spans_dropped_total 4$/m);
  assert.match(text, /^gatehouse_tracing_spans_exported_total 2$/m);
});
