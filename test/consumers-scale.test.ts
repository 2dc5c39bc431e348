// 100,000 consumers: they load and authenticate, one more consumer is added through the admin API
// without the routes being recompiled or the whole config validated again, and the list pages.
// Prints the load time, the time of one change and the heap (no thresholds: they vary by machine;
// what is asserted is that a change goes the incremental way, which the compile counter shows).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';

const N = 100_000;
let up: Upstream;
let gw: TestGateway;
let loadMs = 0;

before(async () => {
  up = await startUpstream();
  const consumers = Array.from({ length: N }, (_, i) => ({
    id: `c${i}`,
    credentials: [{ type: 'api-key', key: `key-${i}-0123456789abcdef` }],
  }));
  const t = performance.now();
  gw = await startTestGateway({
    services: { up: { targets: [{ url: up.url }] } },
    consumers,
    routes: [{ name: 'api', service: 'up', policies: [{ type: 'key-auth' }] }],
  });
  loadMs = performance.now() - t;
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

async function call(key: string): Promise<number> {
  const res = await request(gw.url + '/x', { headers: { 'x-api-key': key } });
  await res.body.dump();
  return res.statusCode;
}

async function admin(method: string, path: string, body?: unknown) {
  const res = await request(gw.adminUrl + path, {
    method: method as 'GET',
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

test('100,000 consumers load, authenticate, change one at a time, and page', async () => {
  assert.equal(await call('key-99999-0123456789abcdef'), 200);
  assert.equal(await call('key-100000-0123456789abcdef'), 401);
  const plan = gw.instance.plan;
  const version = gw.instance.version;

  const t = performance.now();
  const added = await admin('POST', '/consumers', { id: 'late', credentials: [{ type: 'api-key', key: 'late-key-0123456789abcdef' }] });
  const changeMs = performance.now() - t;
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.equal(await call('late-key-0123456789abcdef'), 200);
  assert.equal(gw.instance.version, version + 1);
  // The routes were not compiled again: the instance's compiled routes are the very same objects.
  assert.equal(gw.instance.plan.routes, plan.routes);
  // The first edit indexed the consumers; the next one is the steady-state cost.
  const t2 = performance.now();
  const next = await admin('PUT', '/consumers/late2', { credentials: [{ type: 'api-key', key: 'late2-key-0123456789abcdef' }] });
  const nextMs = performance.now() - t2;
  assert.equal(next.status, 201);
  assert.equal(await call('late2-key-0123456789abcdef'), 200);

  // A duplicate key is refused at the new consumer's place, as a whole-config validation says it.
  const dup = await admin('POST', '/consumers', { id: 'dup', credentials: [{ type: 'api-key', key: 'key-5-0123456789abcdef' }] });
  assert.equal(dup.status, 400);
  assert.deepEqual((dup.body.error as { details: { path: string; message: string }[] }).details, [
    { path: `consumers[${N + 2}].credentials[0].key`, message: 'this API key is already used by consumers[5].credentials[0]' },
  ]);
  // A removed consumer's key stops working at once, even one already verified (and cached).
  assert.equal(await call('key-7-0123456789abcdef'), 200);
  assert.equal((await admin('DELETE', '/consumers/c7')).status, 200);
  assert.equal(await call('key-7-0123456789abcdef'), 401);

  const first = await admin('GET', '/consumers?limit=1000');
  const items = first.body.consumers as { id: string }[];
  assert.equal(items.length, 1000);
  assert.equal(items[0]!.id, 'c0');
  const second = await admin('GET', `/consumers?limit=2&after=${String(first.body.next)}`);
  assert.deepEqual(
    (second.body.consumers as { id: string }[]).map((c) => c.id),
    [...[...Array(N).keys()].map((i) => `c${i}`)].sort().slice(1000, 1002),
  );
  assert.equal((await admin('GET', '/consumers?limit=1001')).status, 400);

  const heapMb = process.memoryUsage().heapUsed / 1024 / 1024;
  console.log(
    `# ${N} consumers: start ${loadMs.toFixed(0)} ms; first consumer edit ${changeMs.toFixed(1)} ms (indexes the consumers), next ${nextMs.toFixed(1)} ms; heap ${heapMb.toFixed(0)} MiB`,
  );
});
