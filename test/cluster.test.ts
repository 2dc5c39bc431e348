// Three gateways sharing one config store (a real PostgreSQL, a database of this file's own): a
// change through any one's admin API is served by all, learnt by LISTEN/NOTIFY (the periodic
// check is set to an hour here, so only a notification can deliver it in time); the propagation
// time from the admin call to each instance serving the change is printed. Also: GET /cluster,
// concurrent writers, rollback, history and diff, refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type Gateway } from '../src/gateway.js';
import { validateConfig } from '../src/validation/validate.js';
import { silentLogger } from '../src/observability/logger.js';
import { migrate } from '../src/controlplane/migrations.js';
import { connect } from '../src/controlplane/pg.js';
import { testBoot } from './helpers/gateway.js';
import { waitFor } from './helpers/child.js';
import { createDatabase, type TestDatabase } from './helpers/postgres.js';

let db: TestDatabase;
const gws: Gateway[] = [];

interface Node {
  url: string;
  admin: string;
  gw: Gateway;
}
const nodes: Node[] = [];

async function startNode(): Promise<Node> {
  const boot = validateConfig(
    testBoot({ type: 'postgres', url: db.url, schema: 'gh', pollIntervalMs: 3_600_000, heartbeatIntervalMs: 200 }),
  );
  assert.ok(boot.ok, JSON.stringify(!boot.ok && boot.errors));
  const gw = await startGateway({ config: boot.config, logger: silentLogger });
  gws.push(gw);
  return { gw, url: gw.listeners[0]!.url, admin: `http://127.0.0.1:${gw.admin!.port}` };
}

/** The stored part of a config whose one route answers `body`. */
function config(body: string): string {
  return JSON.stringify({
    accessLog: false,
    services: { api: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', match: { paths: ['/v'] }, service: 'api', policies: [{ type: 'request-termination', status: 200, body }] }],
  });
}

async function post(node: Node, path: string, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(node.admin + path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function get(node: Node, path: string) {
  const res = await fetch(node.admin + path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function served(node: Node): Promise<string> {
  const res = await fetch(node.url + '/v');
  return res.status === 200 ? res.text() : `status ${res.status}`;
}

before(async () => {
  db = await createDatabase();
  const c = await connect(db.url);
  await migrate(c, 'gh');
  await c.end();
  for (let i = 0; i < 3; i++) nodes.push(await startNode());
});
after(async () => {
  await Promise.all(gws.map((g) => g.stop()));
  await db.drop();
});

test('an empty store serves an empty config at version 0', async () => {
  for (const n of nodes) {
    assert.equal(n.gw.instance.version, 0);
    assert.equal(await served(n), 'status 404');
  }
});

test('a change through one instance’s admin API is served by all three; propagation over 20 changes', async () => {
  const times: number[] = [];
  for (let i = 1; i <= 20; i++) {
    const via = nodes[i % 3]!;
    const body = `change ${i}`;
    const t0 = performance.now();
    const r = await post(via, '/config', config(body), { 'x-gatehouse-author': 'test', 'x-gatehouse-comment': `change ${i}` });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.configVersion, i);
    await Promise.all(
      nodes.map(async (n) => {
        await waitFor(`instance serving "${body}"`, async () => (await served(n)) === body, 10_000, 2);
        times.push(performance.now() - t0);
      }),
    );
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(1);
  const line = `propagation, admin call → instance serving it (${times.length} samples, 20 changes × 3 instances): p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${times.at(-1)!.toFixed(1)} ms`;
  console.log(line);
  // The bound: every instance serves a committed change within a second.
  assert.ok(times.at(-1)! < 1000, line);
  for (const n of nodes) assert.equal(n.gw.instance.version, 20);
});

test('GET /cluster on any instance lists each instance with its applied version; a lagging, silent one is marked', async () => {
  const c = await connect(db.url);
  await c.query(
    `INSERT INTO gh.instances (id, address, version, last_seen) VALUES ('ghost', 'http://10.0.0.9:8080', 3, now() - interval '1 hour')`,
  );
  await c.end();
  for (const n of nodes) {
    const r = await waitFor(
      'three heartbeats at version 20',
      async () => {
        const r = await get(n, '/cluster');
        const live = (r.body.instances as Record<string, unknown>[]).filter((m) => m.id !== 'ghost');
        return live.length === 3 && live.every((m) => m.appliedVersion === 20) && r;
      },
      5000,
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.latestVersion, 20);
    const members = r.body.instances as Record<string, unknown>[];
    assert.equal(members.length, 4);
    assert.equal(members.filter((m) => m.self).length, 1);
    for (const m of members.filter((m) => m.id !== 'ghost')) {
      assert.equal(m.lagging, false);
      assert.equal(m.stale, false);
      assert.match(String(m.address), /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(!Number.isNaN(Date.parse(String(m.lastHeartbeat))));
    }
    const ghost = members.find((m) => m.id === 'ghost')!;
    assert.deepEqual([ghost.appliedVersion, ghost.lagging, ghost.stale], [3, true, true]);
  }
});

test('two instances changing the config at once make two versions, and all three serve the later one', async () => {
  const [a, b] = await Promise.all([post(nodes[0]!, '/config', config('from a')), post(nodes[1]!, '/config', config('from b'))]);
  const versions = [a.body.configVersion, b.body.configVersion].sort();
  assert.deepEqual(versions, [21, 22]);
  const last = a.body.configVersion === 22 ? 'from a' : 'from b';
  for (const n of nodes) await waitFor(`serving "${last}"`, async () => (await served(n)) === last, 5000);
});

test('history, one version, a diff, and a rollback that is itself a new version', async () => {
  const list = await get(nodes[2]!, '/config/versions?limit=3');
  assert.equal(list.status, 200);
  const versions = list.body.versions as { version: number; author: string; comment: string }[];
  assert.deepEqual(
    versions.map((v) => v.version),
    [22, 21, 20],
  );
  assert.deepEqual([versions[2]!.author, versions[2]!.comment], ['test', 'change 20']);
  assert.equal(versions[0]!.author, 'admin-api');

  const v5 = await get(nodes[0]!, '/config/versions/5');
  assert.equal(v5.status, 200);
  assert.equal(v5.body.version, 5);
  assert.ok(!('listen' in (v5.body.config as object)), 'boot keys are not stored');
  assert.equal((v5.body.config as { routes: { policies: { body: string }[] }[] }).routes[0]!.policies[0]!.body, 'change 5');

  const diff = await get(nodes[1]!, '/config/diff?from=5&to=6');
  assert.deepEqual(diff.body.changes, [{ path: 'routes[0].policies[0].body', op: 'change', before: 'change 5', after: 'change 6' }]);

  const rb = await post(nodes[1]!, '/config/versions/5/rollback', undefined, { 'x-gatehouse-author': 'ops' });
  assert.equal(rb.status, 200, JSON.stringify(rb.body));
  assert.deepEqual(rb.body, { applied: true, configVersion: 23, rolledBackTo: 5 });
  for (const n of nodes) await waitFor('serving version 5 again', async () => (await served(n)) === 'change 5', 5000);
  const top = (await get(nodes[0]!, '/config/versions?limit=1')).body.versions as { author: string; comment: string }[];
  assert.deepEqual([top[0]!.author, top[0]!.comment], ['ops', 'rollback to version 5']);

  assert.equal((await get(nodes[0]!, '/config/versions/999')).status, 404);
  assert.equal((await get(nodes[0]!, '/config/versions/x')).status, 400);
  assert.equal((await get(nodes[0]!, '/config/diff?from=1')).status, 400);
});

test('an invalid change is refused as POST /config refuses it and makes no version; the same config again makes none', async () => {
  const bad = await post(nodes[0]!, '/config', JSON.stringify({ routes: [{ name: 'r', service: 'missing' }] }));
  assert.equal(bad.status, 400);
  assert.equal((bad.body.error as { code: string }).code, 'CONFIG_INVALID');
  const current = (await get(nodes[0]!, '/config')).body;
  // GET /config's output (boot keys included, secrets redacted) posted back is no change.
  const same = await post(nodes[0]!, '/config', JSON.stringify(current));
  assert.deepEqual(same.body, { applied: true, configVersion: 23, unchanged: true });
  const latest = (await get(nodes[0]!, '/config/versions?limit=1')).body.versions as { version: number }[];
  assert.equal(latest[0]!.version, 23);
});

test('a consumer edit through one instance is a stored version every instance serves; a refused edit is its own answer', async () => {
  const before = nodes[0]!.gw.instance.version;
  const created = await post(nodes[0]!, '/consumers', JSON.stringify({ id: 'mobile', groups: ['apps'] }), {
    'x-gatehouse-author': 'carol',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.configVersion, before + 1);
  for (const n of nodes) await waitFor('consumer everywhere', async () => (await get(n, '/consumers/mobile')).status === 200, 5000);
  const top = (await get(nodes[2]!, '/config/versions?limit=1')).body.versions as { version: number; author: string }[];
  // The author is the X-Gatehouse-Author of the consumer edit, as for POST /config.
  assert.deepEqual([top[0]!.version, top[0]!.author], [before + 1, 'carol']);
  // A 404 of the edit itself is not a database failure (503), and stores nothing.
  const missing = await fetch(nodes[1]!.admin + '/consumers/nobody', { method: 'DELETE' });
  assert.equal(missing.status, 404);
  const again = await post(nodes[1]!, '/consumers', JSON.stringify({ id: 'mobile' }));
  assert.equal(again.status, 409);
  assert.equal(((await get(nodes[1]!, '/config/versions?limit=1')).body.versions as { version: number }[])[0]!.version, before + 1);
});
