// A Redis store that fails is never silent: one log line when it goes, one when it is back (not one
// per request), every failed decision counted in /metrics, and its state in the admin API's
// GET /ready — in one process, and with workers (whose stores live in the workers).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import { validateConfig } from '../src/validation/validate.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { testConfig } from './helpers/gateway.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { freePort, killAllChildren, startChild, tempDir, waitFor, workersHead, type TempDir } from './helpers/child.js';
import { privateRedis, sharedRedisUp, uniquePrefix } from './helpers/redis.js';

const up = await sharedRedisUp(); // the redis-server binary comes with the shared one
const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
  await killAllChildren();
});

interface Line {
  level: string;
  msg: string;
  store?: string;
  failedDecisions?: number;
}

async function gateway(storeUrl: string, onStoreError: string) {
  const upstream: Upstream = await startUpstream();
  cleanup.push(() => upstream.close());
  const lines: Line[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Line);
      cb();
    },
  });
  const log = pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, dest);
  const result = validateConfig(
    testConfig({
      store: { type: 'redis', url: storeUrl, prefix: uniquePrefix('health'), timeout: '50ms', onStoreError },
      services: { api: { targets: [{ url: upstream.url }] } },
      routes: [
        {
          name: 'limited',
          match: { paths: ['/x'] },
          service: 'api',
          policies: [{ type: 'rate-limit', algorithm: 'fixed-window', limit: 1000, window: '1h', by: 'ip' }],
        },
      ],
    }),
  );
  assert.ok(result.ok);
  const gw: Gateway = await startGateway({ config: result.config, logger: log });
  cleanup.push(() => gw.stop());
  const url = `http://127.0.0.1:${gw.listeners[0]!.port}`;
  const adminUrl = `http://127.0.0.1:${gw.admin!.port}`;
  const get = async () => {
    const res = await request(`${url}/x`);
    await res.body.dump();
    return { status: res.statusCode, counted: res.headers.ratelimit !== undefined };
  };
  const storeLines = (msg: string) => lines.filter((l) => l.store !== undefined && l.msg.startsWith(msg));
  return { get, adminUrl, storeLines };
}

async function metrics(adminUrl: string): Promise<string> {
  const res = await request(`${adminUrl}/metrics`);
  return res.body.text();
}

/** The sum of every series of `name` whose labels include `labels`. */
function total(text: string, name: string, labels: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name + '{') && l.includes(labels))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function stores(
  adminUrl: string,
): Promise<{ store: string; state: string; failedDecisions: number; breaker?: string; worker?: number }[]> {
  const res = await request(`${adminUrl}/ready`);
  assert.equal(res.statusCode, 200, 'a store down never makes the instance unready');
  return ((await res.body.json()) as { stores: never[] }).stores;
}

test(
  'Redis killed and restarted (onStoreError: allow): one line each way, every failure counted, the state in /ready',
  { skip: !up },
  async () => {
    const redis = await privateRedis();
    cleanup.push(() => redis.stop());
    const gw = await gateway(redis.url, 'allow');
    const store = `redis://127.0.0.1:${redis.port}`;
    await waitFor('counting in Redis', async () => (await gw.get()).counted);
    assert.deepEqual(
      (await stores(gw.adminUrl)).map((s) => [s.store, s.state]),
      [[store, 'up']],
    );

    await redis.stop();
    for (let i = 0; i < 60; i++) assert.deepEqual(await gw.get(), { status: 200, counted: false });
    assert.equal(gw.storeLines('rate-limit store unavailable').length, 1, 'one line for 60 failed requests');
    assert.equal(gw.storeLines('rate-limit store available again').length, 0);
    const text = await metrics(gw.adminUrl);
    assert.equal(total(text, 'gatehouse_store_errors_total', `store="${store}",op="fixed-window"`), 60);
    assert.ok(total(text, 'gatehouse_store_errors_total', 'reason="breaker_open"') > 0, 'the breaker opened');
    assert.match(text, new RegExp(`^gatehouse_store_up\\{store="${store}"\\} 0$`, 'm'));
    const down = await stores(gw.adminUrl);
    assert.equal(down[0]!.state, 'down');
    assert.equal(down[0]!.failedDecisions, 60);
    assert.equal(down[0]!.breaker, 'open');

    await redis.start();
    await waitFor('counting in Redis again', async () => (await gw.get()).counted, 10_000, 100);
    assert.equal(gw.storeLines('rate-limit store unavailable').length, 1);
    const back = gw.storeLines('rate-limit store available again');
    assert.equal(back.length, 1);
    assert.ok(back[0]!.failedDecisions! >= 60, 'the line says how many decisions failed meanwhile');
    assert.equal((await stores(gw.adminUrl))[0]!.state, 'up');
    assert.match(await metrics(gw.adminUrl), new RegExp(`^gatehouse_store_up\\{store="${store}"\\} 1$`, 'm'));
  },
);

test(
  'a store at a dead port (onStoreError: deny): down from the start, one line however many requests it fails',
  { skip: !up },
  async () => {
    const port = await freePort();
    const gw = await gateway(`redis://:secret@127.0.0.1:${port}/2`, 'deny');
    for (let i = 0; i < 40; i++) assert.equal((await gw.get()).status, 503);
    const lines = gw.storeLines('rate-limit store unavailable');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.store, `redis://127.0.0.1:${port}/2`, 'named without its password');
    assert.equal(total(await metrics(gw.adminUrl), 'gatehouse_store_errors_total', `store="redis://127.0.0.1:${port}/2"`), 40);
    const [s] = await stores(gw.adminUrl);
    assert.equal(s!.state, 'down');
    assert.equal(s!.failedDecisions, 40);
  },
);

test('workers: each worker reports its own store in /ready, and /metrics adds their failures up', { skip: !up }, async () => {
  const dir: TempDir = await tempDir();
  cleanup.push(() => dir.remove());
  const upstream = await startUpstream();
  cleanup.push(() => upstream.close());
  const deadPort = await freePort();
  const gw = await startChild(
    await dir.file(
      'store-workers.yaml',
      `
${workersHead(await freePort())}store: { type: redis, url: "redis://127.0.0.1:${deadPort}", prefix: "${uniquePrefix('health-workers')}", timeout: 50ms, onStoreError: deny }
services:
  up: { targets: [{ url: "${upstream.url}" }] }
routes:
  - { name: limited, service: up, policies: [{ type: rate-limit, algorithm: sliding-window, limit: 10, window: 1m, by: ip }] }
`,
    ),
    { timeoutMs: 15_000 },
  );
  const list = await waitFor(
    'both workers listed',
    async () => {
      const res = await request(`${gw.adminUrl}/ready`);
      const body = (await res.body.json()) as { stores?: { worker: number; state: string }[] };
      return res.statusCode === 200 && body.stores?.length === 2 ? body.stores : undefined;
    },
    10_000,
    100,
  );
  assert.deepEqual(
    list.map((s) => [s.worker, s.state]),
    [
      [1, 'down'],
      [2, 'down'],
    ],
  );
  for (let i = 0; i < 30; i++) {
    const res = await request(`${gw.url}/x`, { reset: true });
    await res.body.dump();
    assert.equal(res.statusCode, 503);
  }
  const text = await metrics(gw.adminUrl);
  assert.equal(total(text, 'gatehouse_store_errors_total', `op="sliding-window"`), 30);
  assert.match(text, /^gatehouse_store_up\{store="redis:\/\/127\.0\.0\.1:\d+"\} 0$/m);
  // One line per worker (each has its own store), not one per request.
  assert.equal(gw.stderr.split('\n').filter((l) => l.includes('rate-limit store unavailable')).length, 2);
});

test('with an admin token, /ready shows store states only to a caller holding it', { skip: !up }, async () => {
  const upstream: Upstream = await startUpstream();
  cleanup.push(() => upstream.close());
  const result = validateConfig(
    testConfig({
      admin: { token: 'ready-token' },
      store: { type: 'redis', url: 'redis://:secret-password@127.0.0.1:6379/0', prefix: uniquePrefix('ready'), timeout: '200ms' },
      services: { api: { targets: [{ url: upstream.url }] } },
      routes: [
        {
          name: 'limited',
          match: { paths: ['/x'] },
          service: 'api',
          policies: [{ type: 'rate-limit', algorithm: 'fixed-window', limit: 1000, window: '1h', by: 'ip' }],
        },
      ],
    }),
  );
  assert.ok(result.ok);
  const gw = await startGateway({ config: result.config, logger: pino({ level: 'silent' }) });
  cleanup.push(() => gw.stop());
  const adminUrl = `http://127.0.0.1:${gw.admin!.port}`;
  const anonymous = await request(`${adminUrl}/ready`);
  const open = (await anonymous.body.json()) as Record<string, unknown>;
  assert.equal(anonymous.statusCode, 200);
  assert.equal(open.status, 'ready');
  assert.equal(open.stores, undefined, 'no store detail without the token');
  const operator = await request(`${adminUrl}/ready`, { headers: { authorization: 'Bearer ready-token' } });
  const text = await operator.body.text();
  const detail = JSON.parse(text) as { stores: { store: string }[] };
  assert.deepEqual(
    detail.stores.map((s) => s.store),
    ['redis://127.0.0.1:6379/0'],
  );
  assert.doesNotMatch(text, /secret-password/);
});
