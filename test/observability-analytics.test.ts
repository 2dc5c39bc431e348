// GET /analytics through real gateways: per route, service and consumer counts, error rate,
// percentiles, rate-limited and auth-failed counts, top IPs and user agents; a bad window is a
// clear 400; with `store: redis` two instances show their totals (real Redis, unique prefix).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, echo } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { deleteUnder, inspector, sharedRedisUp, SHARED_REDIS, uniquePrefix } from './helpers/redis.js';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await request(url, { headers });
  await res.body.dump();
  return res.statusCode;
}

interface Entry {
  name: string;
  requests: number;
  errors: number;
  errorRate: number;
  rateLimited: number;
  authFailed: number;
  latencyMs: { p50: number; p95: number; p99: number };
  topClientIps: { value: string; count: number }[];
  topUserAgents: { value: string; count: number }[];
}
interface Report {
  window: string;
  source: string;
  routes: Entry[];
  services: Entry[];
  consumers: Entry[];
}

async function analytics(gw: TestGateway, window = '1m'): Promise<Report> {
  const res = await request(`${gw.adminUrl}/analytics?window=${window}`);
  assert.equal(res.statusCode, 200);
  return (await res.body.json()) as Report;
}

async function twoRoutes(extra: Record<string, unknown> = {}): Promise<TestGateway> {
  const up = await startUpstream((req, res) => {
    if (req.url?.startsWith('/busy')) {
      res.writeHead(429);
      return void res.end();
    }
    if (req.url?.startsWith('/fail')) {
      res.writeHead(500);
      return void res.end();
    }
    echo(req, res);
  });
  cleanup.push(() => up.close());
  const gw = await startTestGateway({
    analytics: { enabled: true },
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [
      { name: 'open', match: { paths: ['/open/*', '/busy/*', '/fail/*'] }, service: 'up' },
      { name: 'keyed', match: { paths: ['/keyed/*'] }, service: 'up', policies: [{ type: 'key-auth' }] },
    ],
    ...extra,
  });
  cleanup.push(() => gw.stop());
  return gw;
}

test('per route, service and consumer over a window', async () => {
  const gw = await twoRoutes();
  for (let i = 0; i < 4; i++) assert.equal(await get(`${gw.url}/open/${i}`, { 'user-agent': 'curl/8' }), 200);
  assert.equal(await get(`${gw.url}/busy/1`, { 'user-agent': 'bot/1' }), 429);
  assert.equal(await get(`${gw.url}/fail/1`), 500);
  assert.equal(await get(`${gw.url}/keyed/1`), 401);
  assert.equal(await get(`${gw.url}/keyed/1`, { 'x-api-key': 'alice-key-0123456789' }), 200);
  const r = await analytics(gw, '15m');
  assert.equal(r.window, '15m');
  assert.equal(r.source, 'local');
  const open = r.routes.find((e) => e.name === 'open')!;
  assert.equal(open.requests, 6);
  assert.equal(open.errors, 1);
  assert.equal(open.errorRate, 0.1667);
  assert.equal(open.rateLimited, 1);
  assert.equal(typeof open.latencyMs.p50, 'number');
  assert.ok(open.latencyMs.p50 <= open.latencyMs.p95 && open.latencyMs.p95 <= open.latencyMs.p99);
  assert.deepEqual(open.topUserAgents[0], { value: 'curl/8', count: 4 });
  assert.deepEqual(open.topClientIps, [{ value: '127.0.0.1', count: 6 }]);
  const keyed = r.routes.find((e) => e.name === 'keyed')!;
  assert.equal(keyed.authFailed, 1);
  assert.equal(r.services.find((e) => e.name === 'up')!.requests, 8);
  assert.deepEqual(
    r.consumers.map((c) => [c.name, c.requests]),
    [['alice', 1]],
  );
});

test('a window that is not 1m, 15m or 1h: 400 ADMIN_BAD_QUERY', async () => {
  const gw = await twoRoutes();
  const res = await request(`${gw.adminUrl}/analytics?window=2m`);
  assert.equal(res.statusCode, 400);
  assert.equal(((await res.body.json()) as { error: { code: string } }).error.code, 'ADMIN_BAD_QUERY');
});

test('store: redis — two instances show the totals of both', async (t) => {
  const skip = (await sharedRedisUp()) ? undefined : 'SKIPPED: no Redis at 127.0.0.1:6379';
  if (skip) return t.skip(skip);
  const prefix = uniquePrefix('analytics');
  cleanup.push(async () => {
    const r = inspector();
    try {
      await deleteUnder(r, prefix);
    } finally {
      r.disconnect();
    }
  });
  const store = { type: 'redis', url: SHARED_REDIS, prefix };
  const a = await twoRoutes({ store });
  const b = await twoRoutes({ store });
  for (let i = 0; i < 3; i++) assert.equal(await get(`${a.url}/open/${i}`, { 'user-agent': 'from-a' }), 200);
  for (let i = 0; i < 2; i++) assert.equal(await get(`${b.url}/open/${i}`, { 'user-agent': 'from-b' }), 200);
  assert.equal(await get(`${b.url}/fail/1`, { 'user-agent': 'from-b' }), 500);
  // Each instance flushes its own counts when it reads; b's reach Redis when b is asked.
  await analytics(b, '1m');
  const r = await analytics(a, '1h');
  assert.equal(r.source, 'redis');
  const open = r.routes.find((e) => e.name === 'open')!;
  assert.equal(open.requests, 6);
  assert.equal(open.errors, 1);
  assert.deepEqual(
    open.topUserAgents,
    [
      { value: 'from-b', count: 3 },
      { value: 'from-a', count: 3 },
    ].sort((x, y) => (x.value < y.value ? -1 : 1)),
  );
  assert.equal(typeof open.latencyMs.p99, 'number');
  // The other instance sees the same totals.
  const fromB = (await analytics(b, '15m')).routes.find((e) => e.name === 'open')!;
  assert.equal(fromB.requests, 6);
});
