// Routes, services and plans edited one at a time through the admin API (/config/…): validated as
// a whole config is, served at once, and guarded by ETags — a lost update is refused with 412.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let gw: TestGateway;

before(async () => {
  up = await startUpstream();
  gw = await startTestGateway({
    services: { up: { targets: [{ url: up.url }] } },
    plans: { free: { limits: [{ name: 'free', algorithm: 'fixed-window', limit: 100, window: '1h' }] } },
    consumers: [{ id: 'alice', plan: 'free', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [{ name: 'a', match: { paths: ['/a/*'] }, service: 'up' }],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

interface Answer {
  status: number;
  etag: string | undefined;
  body: Record<string, unknown> & { error?: { code: string; message: string; details?: { path: string }[] } };
}

async function admin(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(gw.adminUrl + path, {
    method: method as 'GET',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const etag = res.headers.etag as string | undefined;
  return { status: res.statusCode, etag, body: (await res.body.json()) as Answer['body'] };
}

async function get(path: string): Promise<number> {
  const res = await request(gw.url + path);
  await res.body.dump();
  return res.statusCode;
}

test('a route is created, read with its ETag, replaced and deleted; the data plane follows each step', async () => {
  assert.equal(await get('/b/x'), 404);
  const created = await admin('PUT', '/config/routes/b', { match: { paths: ['/b/*'] }, service: 'up' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.match(created.etag ?? '', /^"[A-Za-z0-9_-]+"$/);
  assert.equal(await get('/b/x'), 200);
  const read = await admin('GET', '/config/routes/b');
  assert.equal(read.status, 200);
  assert.equal(read.etag, created.etag, 'the ETag of what was written is the ETag GET gives');
  assert.equal(read.body.name, 'b');
  const list = await admin('GET', '/config/routes');
  assert.deepEqual(
    (list.body.routes as { name: string }[]).map((r) => r.name),
    ['a', 'b'],
  );
  // The compiled table keeps its shape.
  const table = await admin('GET', '/routes');
  assert.ok(Array.isArray(table.body.routes));
  const replaced = await admin('PUT', '/config/routes/b', { match: { paths: ['/c/*'] }, service: 'up' }, { 'if-match': read.etag! });
  assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
  assert.notEqual(replaced.etag, read.etag);
  assert.equal(await get('/b/x'), 404);
  assert.equal(await get('/c/x'), 200);
  const deleted = await admin('DELETE', '/config/routes/b', undefined, { 'if-match': replaced.etag! });
  assert.equal(deleted.status, 200);
  assert.equal(await get('/c/x'), 404);
  assert.equal((await admin('GET', '/config/routes/b')).status, 404);
});

test('optimistic concurrency: of two edits made from the same read, the second is refused with 412 and changes nothing', async () => {
  const read = await admin('GET', '/config/routes/a');
  const first = await admin(
    'PUT',
    '/config/routes/a',
    { match: { paths: ['/a/*', '/first/*'] }, service: 'up' },
    { 'if-match': read.etag! },
  );
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const second = await admin(
    'PUT',
    '/config/routes/a',
    { match: { paths: ['/a/*', '/second/*'] }, service: 'up' },
    { 'if-match': read.etag! },
  );
  assert.equal(second.status, 412);
  assert.equal(second.body.error?.code, 'ADMIN_PRECONDITION_FAILED');
  assert.equal(await get('/first/x'), 200, 'the first edit stands');
  assert.equal(await get('/second/x'), 404, 'the lost update was not applied');
  // Sent at the same time with the same ETag, exactly one of several edits wins.
  const now = (await admin('GET', '/config/routes/a')).etag!;
  const racing = await Promise.all(
    [1, 2, 3].map((i) => admin('PUT', '/config/routes/a', { match: { paths: [`/race${i}/*`] }, service: 'up' }, { 'if-match': now })),
  );
  assert.deepEqual(racing.map((r) => r.status).sort(), [200, 412, 412]);
  // Weak tags never match; `*` means "exists"; If-None-Match: * means create only.
  const weak = await admin('DELETE', '/config/routes/a', undefined, { 'if-match': `W/${now}` });
  assert.equal(weak.status, 412);
  const exists = await admin('PUT', '/config/routes/a', { match: { paths: ['/a/*'] }, service: 'up' }, { 'if-none-match': '*' });
  assert.equal(exists.status, 412);
  const absent = await admin('PUT', '/config/routes/nope', { service: 'up' }, { 'if-match': '*' });
  assert.equal(absent.status, 412);
  const fresh = await admin('PUT', '/config/routes/z', { match: { paths: ['/z/*'] }, service: 'up' }, { 'if-none-match': '*' });
  assert.equal(fresh.status, 201);
  const back = await admin('PUT', '/config/routes/a', { match: { paths: ['/a/*'] }, service: 'up' }, { 'if-match': '*' });
  assert.equal(back.status, 200);
});

test('a route naming a missing service is refused as the whole config would be, with the path', async () => {
  const bad = await admin('PUT', '/config/routes/x', { service: 'missing' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error?.code, 'CONFIG_INVALID');
  assert.ok(
    bad.body.error.details!.some((d) => /^routes\[\d+\]\.service$/.test(d.path)),
    JSON.stringify(bad.body),
  );
  const renamed = await admin('PUT', '/config/routes/x', { name: 'y', service: 'up' });
  assert.equal(renamed.status, 400);
  assert.equal((await admin('GET', '/config/routes/x')).status, 404);
});

test('services: create, a service in use cannot be deleted, and one no route uses can', async () => {
  const svc = await admin('PUT', '/config/services/other', { targets: [{ url: up.url }] });
  assert.equal(svc.status, 201, JSON.stringify(svc.body));
  assert.equal((await admin('GET', '/config/services/other')).etag, svc.etag);
  const inUse = await admin('DELETE', '/config/services/up');
  assert.equal(inUse.status, 409);
  assert.match(inUse.body.error!.message, /used by routes? .*a/);
  const badUrl = await admin('PUT', '/config/services/bad', { targets: [{ url: 'ftp://x' }] });
  assert.equal(badUrl.status, 400);
  assert.ok(badUrl.body.error?.details?.some((d) => d.path === 'services.bad.targets[0].url'));
  const stale = await admin('DELETE', '/config/services/other', undefined, { 'if-match': '"stale"' });
  assert.equal(stale.status, 412);
  assert.equal((await admin('DELETE', '/config/services/other', undefined, { 'if-match': svc.etag! })).status, 200);
  const list = await admin('GET', '/config/services?limit=1');
  assert.deepEqual(list.body.services, [{ name: 'up', ...(list.body.services as object[])[0] }]);
  assert.equal(list.body.next, null);
});

test('plans: create and replace; a plan a consumer has cannot be deleted', async () => {
  const pro = await admin('PUT', '/config/plans/pro', { limits: [{ name: 'pro', algorithm: 'fixed-window', limit: 1000, window: '1h' }] });
  assert.equal(pro.status, 201, JSON.stringify(pro.body));
  const used = await admin('DELETE', '/config/plans/free');
  assert.equal(used.status, 409);
  assert.match(used.body.error!.message, /alice/);
  const plans = await admin('GET', '/config/plans');
  assert.deepEqual(
    (plans.body.plans as { name: string }[]).map((p) => p.name),
    ['free', 'pro'],
  );
  assert.equal((await admin('DELETE', '/config/plans/pro', undefined, { 'if-match': pro.etag! })).status, 200);
});

test('the whole config has an ETag: POST /config with a stale If-Match is refused', async () => {
  const read = await request(gw.adminUrl + '/config');
  const etag = read.headers.etag as string;
  const config = (await read.body.json()) as Record<string, unknown>;
  assert.ok(etag);
  await admin('PUT', '/config/routes/late', { match: { paths: ['/late/*'] }, service: 'up' });
  const res = await request(gw.adminUrl + '/config', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'if-match': etag },
    body: JSON.stringify(config),
  });
  assert.equal(res.statusCode, 412);
  assert.equal(((await res.body.json()) as Answer['body']).error?.code, 'ADMIN_PRECONDITION_FAILED');
  assert.equal(await get('/late/x'), 200, 'the stale replacement did not undo the later edit');
});

test('consumers carry ETags too: a stale If-Match on a consumer is refused', async () => {
  const read = await admin('GET', '/consumers/alice');
  assert.ok(read.etag);
  const changed = await admin(
    'PUT',
    '/consumers/alice',
    { plan: 'free', groups: ['x'], credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] },
    { 'if-match': read.etag },
  );
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  const stale = await admin('DELETE', '/consumers/alice', undefined, { 'if-match': read.etag });
  assert.equal(stale.status, 412);
  assert.equal((await admin('GET', '/consumers/alice')).status, 200);
});
