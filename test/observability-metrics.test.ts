// GET /metrics through a real gateway: request counters by route/service/method/status class,
// latency histograms, bytes, retries, auth failures by policy and reason, target health, breaker
// state, reloads and the config version, process metrics; bounded labels.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, echo } from './helpers/upstream.js';
import { startTestGateway, testConfig } from './helpers/gateway.js';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<number> {
  const res = await request(url, { headers, method });
  await res.body.dump();
  return res.statusCode;
}

async function metrics(adminUrl: string, token?: string): Promise<{ status: number; type: string; text: string }> {
  const res = await request(`${adminUrl}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.statusCode, type: String(res.headers['content-type']), text: await res.body.text() };
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('requests, latency, bytes, retries, auth failures, health, breaker, reloads', async () => {
  let flaky = 0;
  const up = await startUpstream((req, res) => {
    if (req.url?.startsWith('/flaky') && flaky++ % 2 === 0) {
      res.writeHead(503);
      return void res.end();
    }
    echo(req, res);
  });
  cleanup.push(() => up.close());
  const config = {
    admin: { token: 'admin-secret' },
    services: {
      up: { targets: [{ url: up.url }], retries: { attempts: 2, on: [503], backoff: { base: '1ms', max: '2ms' } }, circuitBreaker: {} },
    },
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [
      { name: 'items', match: { paths: ['/items/*'] }, service: 'up' },
      { name: 'flaky', match: { paths: ['/flaky/*'] }, service: 'up' },
      { name: 'keyed', match: { paths: ['/keyed/*'] }, service: 'up', policies: [{ type: 'key-auth' }] },
    ],
  };
  const gw = await startTestGateway(config);
  cleanup.push(() => gw.stop());

  assert.equal((await metrics(gw.adminUrl)).status, 401, 'the admin token protects /metrics');
  for (let i = 0; i < 3; i++) assert.equal(await get(`${gw.url}/items/${i}`), 200);
  assert.equal(await get(`${gw.url}/items/x`, {}, 'POST'), 200);
  assert.equal(await get(`${gw.url}/flaky/1`), 200);
  assert.equal(await get(`${gw.url}/keyed/1`), 401);
  assert.equal(await get(`${gw.url}/keyed/1`, { 'x-api-key': 'wrong-key-0123456789' }), 401);
  assert.equal(await get(`${gw.url}/keyed/1`, { 'x-api-key': 'alice-key-0123456789' }), 200);
  assert.equal(await get(`${gw.url}/none`), 404);
  // A config change that is refused, then one that is applied.
  const bad = await request(`${gw.adminUrl}/config`, {
    method: 'POST',
    headers: { authorization: 'Bearer admin-secret' },
    body: JSON.stringify({ routes: [{ name: 'x', service: 'missing' }] }),
  });
  assert.equal(bad.statusCode, 400);
  await bad.body.dump();
  const good = await request(`${gw.adminUrl}/config`, {
    method: 'POST',
    headers: { authorization: 'Bearer admin-secret' },
    body: JSON.stringify(testConfig(config)),
  });
  assert.equal(good.statusCode, 200, await good.body.text());

  const m = await metrics(gw.adminUrl, 'admin-secret');
  assert.equal(m.status, 200);
  assert.match(m.type, /^text\/plain; version=0\.0\.4/);
  const t = m.text;
  assert.equal(value(t, 'gatehouse_requests_total{route="items",service="up",method="GET",status_class="2xx"}'), 3);
  assert.equal(value(t, 'gatehouse_requests_total{route="items",service="up",method="POST",status_class="2xx"}'), 1);
  assert.equal(value(t, 'gatehouse_requests_total{route="keyed",service="up",method="GET",status_class="4xx"}'), 2);
  assert.equal(value(t, 'gatehouse_requests_total{route="",service="",method="GET",status_class="4xx"}'), 1);
  assert.equal(value(t, 'gatehouse_request_duration_seconds_count{route="items",service="up"}'), 4);
  assert.equal(value(t, 'gatehouse_upstream_duration_seconds_count{route="items",service="up"}'), 4);
  assert.equal(value(t, 'gatehouse_request_duration_seconds_bucket{le="+Inf",route="items",service="up"}'), 4);
  assert.equal(value(t, 'gatehouse_upstream_retries_total{route="flaky",service="up"}'), 1);
  assert.equal(value(t, 'gatehouse_gateway_errors_total{route="keyed",service="up",code="GW_UNAUTHORIZED"}'), 2);
  assert.equal(value(t, 'gatehouse_gateway_errors_total{route="",service="",code="GW_ROUTE_NOT_FOUND"}'), 1);
  assert.equal(value(t, 'gatehouse_shed_requests_total'), 0);
  assert.ok(value(t, 'gatehouse_response_bytes_total{route="items",service="up"}')! > 0);
  assert.equal(value(t, 'gatehouse_auth_failures_total{policy="key-auth",reason="missing"}'), 1);
  assert.equal(value(t, 'gatehouse_auth_failures_total{policy="key-auth",reason="invalid"}'), 1);
  assert.equal(value(t, `gatehouse_target_healthy{service="up",target="${up.url}"}`), 1);
  assert.equal(value(t, 'gatehouse_circuit_breaker_state{service="up",state="closed"}'), 1);
  assert.equal(value(t, 'gatehouse_circuit_breaker_state{service="up",state="open"}'), 0);
  assert.equal(value(t, 'gatehouse_requests_in_flight'), 0);
  assert.equal(value(t, 'gatehouse_config_reloads_total{result="ok"}'), 1);
  assert.equal(value(t, 'gatehouse_config_reloads_total{result="failed"}'), 1);
  assert.equal(value(t, 'gatehouse_config_version'), 2);
  assert.match(t, /^nodejs_eventloop_lag_seconds \d/m);
  assert.match(t, /^process_resident_memory_bytes \d/m);
  // Never a raw path, never a consumer label unless asked for.
  assert.doesNotMatch(t, /\/items\/|\/none/);
  assert.doesNotMatch(t, /consumer="alice"/);
});

test('consumer labels only with metrics.consumerLabel; unknown methods become OTHER; rate-limit decisions counted', async () => {
  const up = await startUpstream();
  cleanup.push(() => up.close());
  const gw = await startTestGateway({
    metrics: { consumerLabel: true },
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [
      {
        name: 'keyed',
        service: 'up',
        policies: [{ type: 'key-auth' }, { type: 'rate-limit', algorithm: 'fixed-window', limit: 2, window: '1h' }],
      },
    ],
  });
  cleanup.push(() => gw.stop());
  assert.equal(await get(`${gw.url}/a`, { 'x-api-key': 'alice-key-0123456789' }), 200);
  assert.equal(await get(`${gw.url}/a`, { 'x-api-key': 'alice-key-0123456789' }, 'PURGE'), 200);
  assert.equal(await get(`${gw.url}/a`, { 'x-api-key': 'alice-key-0123456789' }), 429);
  const t = (await metrics(gw.adminUrl)).text;
  assert.equal(value(t, 'gatehouse_consumer_requests_total{route="keyed",consumer="alice",status_class="2xx"}'), 2);
  assert.equal(value(t, 'gatehouse_requests_total{route="keyed",service="up",method="OTHER",status_class="2xx"}'), 1);
  assert.equal(value(t, 'gatehouse_ratelimit_decisions_total{route="keyed",decision="allowed"}'), 2);
  assert.equal(value(t, 'gatehouse_ratelimit_decisions_total{route="keyed",decision="limited"}'), 1);
});

test('metrics.enabled: false: the endpoint still answers (instance metrics), with no request series', async () => {
  const up = await startUpstream();
  cleanup.push(() => up.close());
  const gw = await startTestGateway({
    metrics: { enabled: false },
    services: { up: { targets: [{ url: up.url }] } },
    routes: [{ name: 'r', service: 'up' }],
  });
  cleanup.push(() => gw.stop());
  assert.equal(await get(`${gw.url}/a`), 200);
  const t = (await metrics(gw.adminUrl)).text;
  assert.doesNotMatch(t, /gatehouse_requests_total\{/);
  assert.equal(value(t, 'gatehouse_config_version'), 1);
});
