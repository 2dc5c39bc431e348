// Consumer edits in a config store with many consumers (three gateways, one real PostgreSQL
// database of this file's own, 20,000 consumers): a version that changes consumers only is applied
// by every instance — the one that made it too — as a consumer change, without compiling its routes
// again. What shows it: each data plane's gatehouse_plan_compiles_total stays where it was and each
// instance's compiled routes are the very same objects; a route edit, and a version changing
// consumers and routes at once, do recompile (the counter moves: it can tell). The new key
// authenticates on all three, a deleted one is refused on all three.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway, type Gateway } from '../src/gateway.js';
import { validateConfig } from '../src/validation/validate.js';
import { silentLogger } from '../src/observability/logger.js';
import { migrate } from '../src/controlplane/migrations.js';
import { connect } from '../src/controlplane/pg.js';
import { testBoot } from './helpers/gateway.js';
import { waitFor } from './helpers/child.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { createDatabase, type TestDatabase } from './helpers/postgres.js';
import { maybeUnset } from './helpers/hooks.js';

const N = 20_000;
let db: TestDatabase;
let up: Upstream;
const gws: Gateway[] = [];

interface Node {
  url: string;
  admin: string;
  gw: Gateway;
}
const nodes: Node[] = [];

const key = (i: number | string) => `key-${i}-0123456789abcdef`;

function stored(routes: unknown[], consumers: unknown[]): Record<string, unknown> {
  return { accessLog: false, services: { up: { targets: [{ url: up.url }] } }, consumers, routes };
}
const route = (name: string, path: string) => ({ name, match: { paths: [path] }, service: 'up', policies: [{ type: 'key-auth' }] });
const many = Array.from({ length: N }, (_, i) => ({ id: `c${i}`, credentials: [{ type: 'api-key', key: key(i) }] }));

before(async () => {
  db = await createDatabase();
  up = await startUpstream();
  const c = await connect(db.url);
  await migrate(c, 'cc');
  await c.end();
  for (let i = 0; i < 3; i++) {
    const boot = validateConfig(
      testBoot({ type: 'postgres', url: db.url, schema: 'cc', pollIntervalMs: 3_600_000, heartbeatIntervalMs: 500 }),
    );
    assert.ok(boot.ok, JSON.stringify(!boot.ok && boot.errors));
    const gw = await startGateway({ config: boot.config, logger: silentLogger });
    gws.push(gw);
    nodes.push({ gw, url: gw.listeners[0]!.url, admin: `http://127.0.0.1:${gw.admin!.port}` });
  }
});
after(async () => {
  await Promise.all(gws.map((g) => g.stop()));
  await maybeUnset(db)?.drop();
  await maybeUnset(up)?.close();
});

async function call(node: Node, k: string, path = '/a'): Promise<number> {
  const res = await request(node.url + path, { headers: { 'x-api-key': k } });
  await res.body.dump();
  return res.statusCode;
}

async function admin(node: Node, method: string, path: string, body?: unknown) {
  const res = await request(node.admin + path, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

/** The data plane's count of compiled plans (GET /metrics). */
async function compiles(node: Node): Promise<number> {
  const text = await (await request(node.admin + '/metrics')).body.text();
  const m = /^gatehouse_plan_compiles_total (\d+)$/m.exec(text);
  assert.ok(m, 'gatehouse_plan_compiles_total in GET /metrics');
  return Number(m[1]);
}

const allAt = (version: number) =>
  waitFor(`all three at version ${version}`, () => nodes.every((n) => n.gw.instance.version === version), 20_000, 10);

test('a consumer edit on one instance is applied by all three as a consumer change: no recompile, the new key works, a deleted one is refused', async () => {
  const t0 = performance.now();
  const loaded = await admin(nodes[0]!, 'POST', '/config', stored([route('a', '/a')], many));
  assert.equal(loaded.status, 200, JSON.stringify(loaded.body));
  const v1 = loaded.body.configVersion as number;
  await allAt(v1);
  const loadMs = performance.now() - t0;
  for (const n of nodes) {
    assert.equal(await call(n, key(N - 1)), 200);
    assert.equal(await call(n, key(7)), 200); // verified once: a deletion must also forget that
    assert.equal(await call(n, key('late')), 401);
  }
  const before = await Promise.all(nodes.map(compiles));
  const routes = nodes.map((n) => n.gw.instance.plan.routes);

  // Added through the second instance.
  const t1 = performance.now();
  const added = await admin(nodes[1]!, 'POST', '/consumers', { id: 'late', credentials: [{ type: 'api-key', key: key('late') }] });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const v2 = added.body.configVersion as number;
  assert.equal(v2, v1 + 1);
  await allAt(v2);
  const addMs = performance.now() - t1;
  for (const n of nodes) assert.equal(await call(n, key('late')), 200);

  // Deleted through the third.
  const t2 = performance.now();
  const deleted = await admin(nodes[2]!, 'DELETE', '/consumers/c7');
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  await allAt(v2 + 1);
  const deleteMs = performance.now() - t2;
  for (const n of nodes) {
    assert.equal(await call(n, key(7)), 401);
    assert.equal(await call(n, key(8)), 200);
  }

  // Nothing was compiled again, on any instance, by either change.
  assert.deepEqual(await Promise.all(nodes.map(compiles)), before);
  nodes.forEach((n, i) => assert.equal(n.gw.instance.plan.routes, routes[i], `instance ${i}: routes compiled again`));
  // Every instance holds the same list, in the stored order.
  const latest = await admin(nodes[0]!, 'GET', `/config/versions/${v2 + 1}`);
  const ids = (latest.body.config as { consumers: { id: string }[] }).consumers.map((c) => c.id);
  assert.equal(ids.length, N);
  for (const n of nodes)
    assert.deepEqual(
      n.gw.instance.config.consumers.map((c) => c.id),
      ids,
    );

  // An unchanged consumer sent again stores no version.
  const same = await admin(nodes[0]!, 'PUT', '/consumers/late', { credentials: [{ type: 'api-key', key: key('late') }] });
  assert.equal(same.status, 200, JSON.stringify(same.body));
  assert.equal(same.body.configVersion, v2 + 1);

  console.log(
    `# ${N} consumers, 3 instances: whole config to all ${loadMs.toFixed(0)} ms; consumer added, all three serving it ${addMs.toFixed(0)} ms; deleted ${deleteMs.toFixed(0)} ms`,
  );
});

test('a route edit, and a version changing consumers and routes at once, are compiled whole; the consumers stay right', async () => {
  const before = await Promise.all(nodes.map(compiles));
  const v = nodes[0]!.gw.instance.version;
  const put = await admin(nodes[0]!, 'PUT', '/config/routes/b', route('b', '/b'));
  assert.equal(put.status, 201, JSON.stringify(put.body));
  await allAt(v + 1);
  assert.deepEqual(
    await Promise.all(nodes.map(compiles)),
    before.map((c) => c + 1),
  );
  for (const n of nodes) {
    assert.equal(await call(n, key('late'), '/b'), 200);
    assert.equal(await call(n, key(7), '/b'), 401);
  }

  const stored2 = await admin(nodes[1]!, 'GET', '/config/versions/' + String(v + 1));
  assert.equal((stored2.body.config as { routes: unknown[] }).routes.length, 2);

  // Both at once (POST /config): the whole way, and the result is the same on all three.
  const consumers = [
    ...many.filter((c) => c.id !== 'c7' && c.id !== 'c8'),
    { id: 'newer', credentials: [{ type: 'api-key', key: key('newer') }] },
  ];
  const both = await admin(nodes[1]!, 'POST', '/config', stored([route('a', '/a'), route('c', '/c')], consumers));
  assert.equal(both.status, 200, JSON.stringify(both.body));
  await allAt(v + 2);
  assert.deepEqual(
    await Promise.all(nodes.map(compiles)),
    before.map((c) => c + 2),
  );
  for (const n of nodes) {
    assert.equal(await call(n, key('newer'), '/c'), 200);
    assert.equal(await call(n, key(8), '/c'), 401);
    assert.equal(await call(n, key('late'), '/c'), 401);
    assert.equal(await call(n, key(9), '/c'), 200);
  }
});

test('a stored version that changes consumers only but is refused by the consumer check is refused whole, and the instances keep serving', async () => {
  // Another writer (a hand edit) stores the current document with a duplicate key: only consumers differ.
  const v = nodes[0]!.gw.instance.version;
  const c = await connect(db.url);
  try {
    const r = await c.query<{ doc: { consumers: unknown[] } }>('SELECT doc FROM cc.config_versions WHERE version = $1', [v]);
    const doc = r.rows[0]!.doc;
    doc.consumers.push({ id: 'dup', credentials: [{ type: 'api-key', key: key(9) }] });
    await c.query(`INSERT INTO cc.config_versions (version, doc, author) VALUES ($1, $2, 'intruder')`, [v + 1, JSON.stringify(doc)]);
    await c.query(`SELECT pg_notify('gatehouse_config', $1)`, [String(v + 1)]);
  } finally {
    await c.end();
  }
  // Each instance answers a config refusal in its metrics; none applies the version.
  await waitFor(
    'the bad version refused by all three',
    async () => {
      const texts = await Promise.all(nodes.map(async (n) => (await request(n.admin + '/metrics')).body.text()));
      return texts.every((t) => /^gatehouse_config_reloads_total\{result="failed"\} [1-9]/m.test(t));
    },
    20_000,
  );
  for (const n of nodes) {
    assert.equal(n.gw.instance.version, v);
    assert.equal(await call(n, key(9), '/c'), 200);
  }
});
