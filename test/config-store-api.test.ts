// The edges of a config store's admin API and code API (one gateway, a real PostgreSQL database of
// this file's own): startGateway refuses a config that holds routes beside configStore, as the
// CLI refuses such a boot file; a version that does not exist is 404 and a malformed one 400, each
// with its code (not 503); a stored version too deep to show is 422; a diff is capped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigLoadError, startGateway, type Gateway } from '../src/gateway.js';
import { validateConfig } from '../src/validation/validate.js';
import { silentLogger } from '../src/observability/logger.js';
import { migrate } from '../src/controlplane/migrations.js';
import { connect } from '../src/controlplane/pg.js';
import { testBoot } from './helpers/gateway.js';
import { createDatabase, type TestDatabase } from './helpers/postgres.js';
import { maybeUnset } from './helpers/hooks.js';

let db: TestDatabase;
let gw: Gateway;
let admin: string;
let served: string;

const store = () => ({ type: 'postgres', url: db.url, schema: 'api', pollIntervalMs: 3_600_000, heartbeatIntervalMs: 3_600_000 });

before(async () => {
  db = await createDatabase();
  const c = await connect(db.url);
  await migrate(c, 'api');
  await c.end();
  const boot = validateConfig(testBoot(store()));
  assert.ok(boot.ok);
  gw = await startGateway({ config: boot.config, logger: silentLogger });
  admin = `http://127.0.0.1:${gw.admin!.port}`;
  served = gw.listeners[0]!.url;
});
after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(db)?.drop();
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(admin + path, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const code = (r: { body: Record<string, unknown> }) => (r.body.error as { code?: string } | undefined)?.code;

function doc(body: string, consumers: unknown[] = []): Record<string, unknown> {
  return {
    accessLog: false,
    services: { api: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    consumers,
    routes: [{ name: 'r', match: { paths: ['/v'] }, service: 'api', policies: [{ type: 'request-termination', status: 200, body }] }],
  };
}

test('startGateway refuses configStore beside keys that live in the store, naming each, and starts nothing', async () => {
  const withRoutes = testBoot(store(), {
    services: { api: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 'api' }],
  });
  for (const config of [withRoutes, { ...testBoot(store()), accessLog: false }]) {
    await assert.rejects(startGateway({ config: config as never, logger: silentLogger }), (err: unknown) => {
      assert.ok(err instanceof ConfigLoadError);
      const paths = err.errors.map((e) => e.path).sort();
      assert.deepEqual(paths, 'routes' in config ? ['routes', 'services'] : ['accessLog']);
      for (const e of err.errors)
        assert.match(e.message, /^with configStore this lives in the config store, not the config given to startGateway/);
      return true;
    });
  }
  // A validated boot config (every key present, at its default) is a boot config.
  const validated = validateConfig(testBoot(store()));
  assert.ok(validated.ok);
  assert.ok(Array.isArray(validated.config.routes));
  const again = await startGateway({ config: validated.config, logger: silentLogger });
  await again.stop();
});

test('a version that does not exist is 404, a malformed one 400, each with its code; never 503', async () => {
  const r = await call('POST', '/config', doc('one'));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const v = r.body.configVersion as number;
  const notFound = [
    ['GET', '/config/versions/999'],
    ['POST', '/config/versions/999/rollback'],
    ['GET', `/config/diff?from=${v}&to=999`],
    ['GET', `/config/diff?from=999&to=${v}`],
  ];
  for (const [method, path] of notFound) {
    const a = await call(method!, path!);
    assert.deepEqual([path, a.status, code(a)], [path, 404, 'ADMIN_RESOURCE_NOT_FOUND']);
  }
  const malformed = [
    ['GET', '/config/versions/x'],
    ['GET', '/config/versions/0'],
    ['GET', '/config/versions/-1'],
    ['GET', '/config/versions/1.5'],
    ['GET', '/config/versions/01'],
    ['GET', '/config/versions/99999999999999999999'],
    ['GET', '/config/versions/1e3'],
    ['POST', '/config/versions/x/rollback'],
    ['GET', '/config/diff?from=x&to=1'],
    ['GET', '/config/diff?from=1'],
    ['GET', '/config/diff?from=1&to=1&limit=0'],
    ['GET', '/config/diff?from=1&to=1&limit=10001'],
    ['GET', '/config/versions?limit=x'],
    ['GET', '/config/versions?before=-2'],
  ];
  for (const [method, path] of malformed) {
    const a = await call(method!, path!);
    assert.deepEqual([path, a.status, code(a)], [path, 400, 'ADMIN_BAD_QUERY']);
  }
  for (const path of ['/config/versions/1/rollback/now', '/config/versions/1/other']) {
    const a = await call('GET', path);
    assert.deepEqual([path, a.status, code(a)], [path, 404, 'ADMIN_NOT_FOUND']);
  }
  const wrongMethod = await call('DELETE', '/config/versions/1');
  assert.deepEqual([wrongMethod.status, code(wrongMethod)], [405, 'ADMIN_METHOD_NOT_ALLOWED']);
});

test('a stored version too deep to show or compare is 422 CONFIG_VERSION_UNREADABLE; the instance keeps serving', async () => {
  const good = gw.instance.version;
  const c = await connect(db.url);
  try {
    const deep = `{"consumers":[{"id":"x","metadata":${'{"a":'.repeat(9000)}{}${'}'.repeat(9000)}}]}`;
    await c.query(`INSERT INTO api.config_versions (version, doc, author) VALUES ($1, $2::jsonb, 'intruder')`, [good + 1, deep]);
  } finally {
    await c.end();
  }
  for (const path of [
    `/config/versions/${good + 1}`,
    `/config/diff?from=${good}&to=${good + 1}`,
    `/config/diff?from=${good + 1}&to=${good}`,
  ]) {
    const a = await call('GET', path);
    assert.deepEqual([path, a.status, code(a)], [path, 422, 'CONFIG_VERSION_UNREADABLE']);
    assert.match((a.body.error as { message: string }).message, new RegExp(`config version ${good + 1} cannot be read`));
  }
  // Rolling back to it is a refusal of the config, not an outage either.
  const rb = await call('POST', `/config/versions/${good + 1}/rollback`);
  assert.deepEqual([rb.status, code(rb)], [400, 'CONFIG_INVALID']);
  assert.equal(await (await fetch(served + '/v')).text(), 'one');
  // A good change repairs the store.
  const r = await call('POST', '/config', doc('two'));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.configVersion, good + 2);
});

test('a diff answers at most `limit` changes (default 1000, at most 10000) and says when there are more', async () => {
  const consumers = (group: string) => Array.from({ length: 1200 }, (_, i) => ({ id: `c${i}`, groups: [group] }));
  const a = await call('POST', '/config', doc('three', consumers('a')));
  const b = await call('POST', '/config', doc('four', consumers('b')));
  assert.equal(b.status, 200, JSON.stringify(b.body));
  const [from, to] = [a.body.configVersion as number, b.body.configVersion as number];

  const capped = await call('GET', `/config/diff?from=${from}&to=${to}`);
  assert.equal(capped.status, 200);
  const changes = capped.body.changes as { path: string }[];
  assert.equal(changes.length, 1000);
  assert.equal(capped.body.truncated, true);
  // The route's change and the first consumers' come first (a diff walks the documents in order).
  const paths = changes.map((c) => c.path);
  assert.ok(paths.includes('routes[0].policies[0].body'), paths.slice(0, 3).join());
  assert.deepEqual(paths.filter((p) => p.startsWith('consumers[')).slice(0, 2), ['consumers[0].groups[0]', 'consumers[1].groups[0]']);

  const all = await call('GET', `/config/diff?from=${from}&to=${to}&limit=5000`);
  assert.equal((all.body.changes as unknown[]).length, 1201);
  assert.equal(all.body.truncated, false);
  const few = await call('GET', `/config/diff?from=${from}&to=${to}&limit=2`);
  assert.equal((few.body.changes as unknown[]).length, 2);
  assert.equal(few.body.truncated, true);
  const exact = await call('GET', `/config/diff?from=${from}&to=${to}&limit=1201`);
  assert.equal(exact.body.truncated, false);
});
