// A composite's calls go out like proxied requests (issue 20): retries to another target, the
// circuit breaker and its fallback, the concurrency limit; the client going away cancels the calls
// in flight; tracing shows one client span per call under the server span; the access log and
// the metrics name the calls.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startFlaky, type FlakyUpstream } from './helpers/flaky-upstream.js';
import { startUpstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startOtlpReceiver, attr } from './helpers/otlp-receiver.js';
import { tempDir, waitFor } from './helpers/child.js';
import { explain } from '../src/dataplane/describe.js';
import { http2Client } from './helpers/clients.js';
import type { Plan } from '../src/dataplane/plan.js';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function gateway(config: Record<string, unknown>): Promise<TestGateway> {
  const gw = await startTestGateway(config);
  cleanup.push(() => gw.stop());
  return gw;
}
async function flaky(name: string): Promise<FlakyUpstream> {
  const f = await startFlaky(name);
  cleanup.push(() => f.close());
  return f;
}
const textCall = (name: string, service: string, extra: Record<string, unknown> = {}) => ({
  name,
  service,
  path: '/x',
  nonJson: 'string',
  ...extra,
});

test('a failing target is retried on another one; an open circuit answers with its fallback', async () => {
  const bad = await flaky('bad');
  const good = await flaky('good');
  bad.mode = 'fail';
  const broken = await flaky('broken');
  broken.mode = 'fail';
  const gw = await gateway({
    services: {
      pair: {
        targets: [{ url: bad.url }, { url: good.url }],
        retries: { attempts: 2, on: [503], backoff: { base: '1ms', max: '2ms' } },
      },
      broken: {
        targets: [{ url: broken.url }],
        circuitBreaker: {
          consecutiveFailures: 1,
          openDuration: '1m',
          fallback: { status: 200, headers: { 'content-type': 'application/json' }, body: '{"fallback":true}' },
        },
      },
    },
    routes: [
      {
        name: 'c',
        compose: {
          calls: [textCall('one', 'pair'), textCall('two', 'pair'), { name: 'b', service: 'broken', path: '/x', required: false }],
        },
      },
    ],
  });
  const first = await request(gw.url + '/');
  const body = (await first.body.json()) as Record<string, unknown>;
  assert.equal(first.statusCode, 200);
  // Round robin sends one of the two calls to the failing target first: it is retried on the other.
  assert.deepEqual([body.one, body.two], ['good', 'good']);
  assert.ok(bad.hits >= 1, 'the failing target was tried');
  assert.deepEqual(body._failed, ['b']); // 503: the breaker counts it and opens
  const second = await request(gw.url + '/');
  const again = (await second.body.json()) as Record<string, unknown>;
  assert.deepEqual(again.b, { fallback: true });
  assert.equal(broken.hits, 1, 'the open circuit kept the call from the service');
});

test('the client going away cancels the calls in flight', async () => {
  let closed = 0;
  let arrived = 0;
  const slow = await startUpstream((req, res) => {
    arrived++;
    res.on('close', () => {
      if (!res.writableFinished) closed++;
    });
    setTimeout(() => res.end('{}'), 5000).unref();
  });
  cleanup.push(() => slow.close());
  const gw = await gateway({
    services: { slow: { targets: [{ url: slow.url }] } },
    routes: [
      {
        name: 'c',
        compose: {
          calls: [
            { name: 'a', service: 'slow', path: '/a' },
            { name: 'b', service: 'slow', path: '/b' },
          ],
        },
      },
    ],
  });
  const ac = new AbortController();
  const pending = request(gw.url + '/', { signal: ac.signal }).catch(() => undefined);
  await waitFor('both calls at the service', () => arrived === 2 || undefined);
  ac.abort();
  await pending;
  await waitFor('both calls cancelled', () => closed === 2 || undefined);
});

test('one client span per call under the server span; the access log and the metrics name the calls', async () => {
  const rx = await startOtlpReceiver();
  cleanup.push(() => rx.close());
  const dir = await tempDir();
  cleanup.push(() => dir.remove());
  const file = join(dir.path, 'access.log');
  const up = await startUpstream();
  cleanup.push(() => up.close());
  const gw = await gateway({
    tracing: { endpoint: rx.url, sampleRatio: 1 },
    accessLog: { path: file },
    metrics: { enabled: true },
    services: { up: { targets: [{ url: up.url }] } },
    routes: [
      {
        name: 'bff',
        match: { paths: ['/bff'] },
        compose: {
          calls: [
            { name: 'user', service: 'up', path: '/user' },
            { name: 'orders', service: 'up', path: '/orders' },
            { name: 'gone', service: 'up', path: '/gone/{{calls.user.body.nothing}}', timeout: '1ms', required: false, method: 'DELETE' },
          ],
        },
      },
    ],
  });
  const res = await request(gw.url + '/bff');
  await res.body.dump();
  assert.equal(res.statusCode, 200);
  // Every call's request carries its own span as its parent.
  const parents = up.seen.map((s) => String(s.headers.traceparent).split('-')[2]);
  assert.equal(new Set(parents).size, up.seen.length);

  const dp = (gw.instance.engine as unknown as { dp: { tracer: { exporter: { flush(): Promise<void> } } } }).dp;
  const spans = await waitFor('the spans', async () => {
    await dp.tracer.exporter.flush();
    return rx.spans.some((s) => s.kind === 2) ? rx.spans : undefined;
  });
  const server = spans.find((s) => s.kind === 2)!;
  const clients = spans.filter((s) => s.kind === 3);
  assert.ok(clients.length >= 2);
  for (const c of clients) {
    assert.equal(c.parentSpanId, server.spanId);
    assert.equal(c.traceId, server.traceId);
  }
  assert.deepEqual(
    clients.map((c) => attr(c, 'gatehouse.call')).sort(),
    [...new Set(clients.map((c) => attr(c, 'gatehouse.call')))].sort(),
  );
  assert.ok(clients.some((c) => c.name === 'GET user' && attr(c, 'gatehouse.call') === 'user'));
  assert.ok(clients.some((c) => c.name === 'GET orders'));
  for (const s of up.seen)
    assert.ok(
      clients.some((c) => c.spanId === String(s.headers.traceparent).split('-')[2]),
      'the span the service saw is exported',
    );

  const line = await waitFor('the access log line', async () => (await readFile(file, 'utf8').catch(() => '')).trim() || undefined);
  const record = JSON.parse(line) as {
    route: string;
    calls: { name: string; service: string; status?: number; failed?: string; ms: number }[];
  };
  assert.equal(record.route, 'bff');
  const byName = new Map(record.calls.map((c) => [c.name, c]));
  assert.equal(byName.get('user')!.status, 200);
  assert.equal(byName.get('orders')!.service, 'up');
  assert.equal(typeof byName.get('orders')!.ms, 'number');

  const metrics = await (await request(gw.adminUrl + '/metrics')).body.text();
  assert.match(metrics, /gatehouse_compose_calls_total\{route="bff",call="user",service="up",outcome="2xx"\} 1/);
  assert.match(metrics, /gatehouse_compose_call_duration_seconds_count\{route="bff",call="orders"\} 1/);
});

test('over HTTP/2, with HEAD, with a response policy, and in `explain`: a composite is a route like any other', async () => {
  const up = await startUpstream();
  cleanup.push(() => up.close());
  const gw = await gateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { up: { targets: [{ url: up.url }] } },
    routes: [
      {
        name: 'c',
        match: { paths: ['/c/:id'] },
        policies: [{ type: 'headers', response: { set: { 'x-composed': 'yes' } } }],
        compose: { calls: [{ name: 'echo', service: 'up', path: '/e/{{params.id}}', pick: ['url'] }] },
      },
    ],
  });
  const h2 = http2Client();
  cleanup.push(() => h2.close());
  const got = await h2.request(gw.url + '/c/9');
  assert.equal(got.statusCode, 200);
  const body = await got.body.text();
  assert.deepEqual(JSON.parse(body), { echo: { url: '/e/9' } });
  assert.equal(got.headers['x-composed'], 'yes');
  assert.equal(got.headers['content-length'], String(Buffer.byteLength(body)));
  const head = await h2.request(gw.url + '/c/9', { method: 'HEAD' });
  assert.equal(head.statusCode, 200);
  assert.equal(await head.body.text(), '');
  const plan = (gw.instance.engine as unknown as { dp: { plan: Plan } }).dp.plan;
  const why = explain(plan, 'GET', '/c/9', {});
  assert.equal(why.matched, true);
  assert.equal(why.route!.service, '(compose)');
  assert.equal(why.upstream, undefined);
});
