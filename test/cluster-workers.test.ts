// A config store with `workers: 2`: two gateways (`gatehouse start`, each a primary and two
// workers) share one real PostgreSQL database of this file's own. A change through either one's
// admin API reaches every worker of both: each worker compiles the new plan once, which the
// instance's gatehouse_plan_compiles_total (the sum over its workers) shows going up by two. A
// consumer change reaches every worker as a consumer change (the sum stays): the new key
// authenticates and a deleted one is refused on connections spread over the workers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { migrate } from '../src/controlplane/migrations.js';
import { connect } from '../src/controlplane/pg.js';
import { childPids, freePort, killAllChildren, startChild, tempDir, waitFor, type GatewayChild, type TempDir } from './helpers/child.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { createDatabase, type TestDatabase } from './helpers/postgres.js';
import { maybeUnset } from './helpers/hooks.js';

let db: TestDatabase;
let up: Upstream;
let dir: TempDir;
const nodes: GatewayChild[] = [];

before(async () => {
  db = await createDatabase();
  up = await startUpstream();
  dir = await tempDir();
  const c = await connect(db.url);
  await migrate(c, 'cw');
  await c.end();
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const boot = await dir.file(
      `boot-${i}.yaml`,
      `workers: 2\nlog: { level: warn }\nlisten: [{ port: ${port}, host: 127.0.0.1 }]\nadmin: { port: 0, host: 127.0.0.1 }\n` +
        `configStore: { type: postgres, url: "${db.url}", schema: cw, pollIntervalMs: 3600000, heartbeatIntervalMs: 500 }\n`,
    );
    nodes.push(await startChild(boot, { timeoutMs: 60_000 }));
  }
});
after(async () => {
  await killAllChildren();
  await maybeUnset(db)?.drop();
  await maybeUnset(up)?.close();
  await maybeUnset(dir)?.remove();
});

const key = (name: string) => `key-${name}-0123456789abcdef`;
const route = (name: string, path: string) => ({ name, match: { paths: [path] }, service: 'up', policies: [{ type: 'key-auth' }] });

async function admin(node: GatewayChild, method: string, path: string, body?: unknown) {
  const res = await request(node.adminUrl + path, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

/** Statuses of `n` requests, each on a new connection (the kernel spreads them over the workers). */
async function statuses(node: GatewayChild, k: string, path: string, n = 12): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await request(node.url + path, { reset: true, headers: { 'x-api-key': k } });
    await res.body.dump();
    out.push(res.statusCode);
  }
  return out;
}

async function metric(node: GatewayChild, name: string): Promise<number> {
  const text = await (await request(node.adminUrl + '/metrics')).body.text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  assert.ok(m, `${name} in GET /metrics`);
  return Number(m[1]);
}

const compiles = (node: GatewayChild) => metric(node, 'gatehouse_plan_compiles_total');

/** Both instances at `version`: the admin API answers it once every worker of the instance has it. */
const bothAt = (version: number) =>
  waitFor(
    `both instances at version ${version}`,
    async () => (await Promise.all(nodes.map((n) => metric(n, 'gatehouse_config_version')))).every((v) => v === version),
    15_000,
  );

const twelve = (status: number) => Array<number>(12).fill(status);

test('a change through the admin API reaches every worker of both instances; consumer changes do too, without a recompile', async () => {
  // Two workers each compiled the empty version 0 at start.
  assert.deepEqual(await Promise.all(nodes.map(compiles)), [2, 2]);

  const config = {
    accessLog: false,
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'first', credentials: [{ type: 'api-key', key: key('first') }] }],
    routes: [route('a', '/a')],
  };
  const posted = await admin(nodes[0]!, 'POST', '/config', config);
  assert.equal(posted.status, 200, JSON.stringify(posted.body));
  const v1 = posted.body.configVersion as number;
  await bothAt(v1);
  assert.deepEqual(await Promise.all(nodes.map(compiles)), [4, 4]);
  for (const n of nodes) assert.deepEqual(await statuses(n, key('first'), '/a'), twelve(200));

  // A consumer added through the other instance.
  const added = await admin(nodes[1]!, 'POST', '/consumers', { id: 'second', credentials: [{ type: 'api-key', key: key('second') }] });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  await bothAt(v1 + 1);
  for (const n of nodes) assert.deepEqual(await statuses(n, key('second'), '/a'), twelve(200));

  // Deleted through the first: refused on every worker, though each verified it just now.
  const deleted = await admin(nodes[0]!, 'DELETE', '/consumers/first');
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  await bothAt(v1 + 2);
  for (const n of nodes) assert.deepEqual(await statuses(n, key('first'), '/a'), twelve(401));
  // No worker compiled anything for the two consumer changes.
  assert.deepEqual(await Promise.all(nodes.map(compiles)), [4, 4]);

  // A route added through the second instance: every worker of both compiles it once.
  const put = await admin(nodes[1]!, 'PUT', '/config/routes/b', route('b', '/b'));
  assert.equal(put.status, 201, JSON.stringify(put.body));
  await bothAt(v1 + 3);
  assert.deepEqual(await Promise.all(nodes.map(compiles)), [6, 6]);
  for (const n of nodes) {
    assert.deepEqual(await statuses(n, key('second'), '/b'), twelve(200));
    assert.deepEqual(await statuses(n, key('first'), '/b'), twelve(401));
  }

  // GET /cluster on either: both instances at the latest version, neither lagging.
  const cluster = await waitFor(
    'both heartbeats at the latest version',
    async () => {
      const r = await admin(nodes[0]!, 'GET', '/cluster');
      const members = r.body.instances as { appliedVersion: number; lagging: boolean }[];
      return members.length === 2 && members.every((m) => m.appliedVersion === v1 + 3 && !m.lagging) && r;
    },
    5000,
  );
  assert.equal(cluster.body.latestVersion, v1 + 3);
});

test('a worker that dies is replaced with the newest version, consumer changes included', async () => {
  const node = nodes[0]!;
  const v = await metric(node, 'gatehouse_config_version');
  const added = await admin(node, 'POST', '/consumers', { id: 'third', credentials: [{ type: 'api-key', key: key('third') }] });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  await bothAt(v + 1);
  const [victim] = childPids(node.pid);
  assert.ok(victim !== undefined, 'a worker process');
  process.kill(victim, 'SIGKILL');
  // The replacement is sent the whole newest config: with it, both workers serve the consumer.
  await waitFor(
    'a replacement worker',
    () => {
      const pids = childPids(node.pid);
      return !pids.includes(victim) && pids.length === 2;
    },
    15_000,
  );
  await waitFor(
    'every worker serving the newest consumers',
    async () => (await statuses(node, key('third'), '/b')).every((s) => s === 200),
    15_000,
  );
  assert.deepEqual(await statuses(node, key('first'), '/b'), twelve(401));
});
