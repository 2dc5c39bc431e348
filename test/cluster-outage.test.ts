// The config store's database goes away (a private PostgreSQL, killed with `pg_ctl stop -m
// immediate` and started again): three gateways keep serving with no failed request, say so once
// each, refuse changes meanwhile (503), and take the next change once it is back. An instance
// that starts while the database is down boots from its snapshot, or refuses to start without one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { copyFile } from 'node:fs/promises';
import { pino } from 'pino';
import { startGateway, type Gateway } from '../src/gateway.js';
import { validateConfig } from '../src/validation/validate.js';
import { migrate } from '../src/controlplane/migrations.js';
import { connect } from '../src/controlplane/pg.js';
import { ConfigStore } from '../src/controlplane/store.js';
import { testBoot } from './helpers/gateway.js';
import { sleep, tempDir, waitFor, type TempDir } from './helpers/child.js';
import { createDatabase, privatePostgres, type PrivatePostgres, type TestDatabase } from './helpers/postgres.js';

let pgServer: PrivatePostgres;
let db: TestDatabase;
let dir: TempDir;
const gws: Gateway[] = [];

interface Node {
  url: string;
  admin: string;
  gw: Gateway;
  lines: { msg: string; level: string }[];
  snapshot: string;
}
const nodes: Node[] = [];

async function startNode(snapshot: string): Promise<Node> {
  const lines: Node['lines'] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Node['lines'][number]);
      cb();
    },
  });
  const log = pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, dest);
  const boot = validateConfig(
    testBoot({ type: 'postgres', url: db.url, schema: 'gh', snapshot, pollIntervalMs: 200, heartbeatIntervalMs: 200 }),
  );
  assert.ok(boot.ok);
  const gw = await startGateway({ config: boot.config, logger: log });
  gws.push(gw);
  return { gw, url: gw.listeners[0]!.url, admin: `http://127.0.0.1:${gw.admin!.port}`, lines, snapshot };
}

const config = (body: string) => ({
  accessLog: false,
  services: { api: { targets: [{ url: 'http://127.0.0.1:1' }] } },
  routes: [{ name: 'r', match: { paths: ['/v'] }, service: 'api', policies: [{ type: 'request-termination', status: 200, body }] }],
});

async function served(url: string): Promise<string> {
  const res = await fetch(url + '/v');
  return res.status === 200 ? res.text() : `status ${res.status}`;
}

function postConfig(node: Node, body: string) {
  return fetch(node.admin + '/config', {
    method: 'POST',
    body: JSON.stringify(config(body)),
    headers: { 'content-type': 'application/json' },
  });
}

before(async () => {
  pgServer = await privatePostgres();
  db = await createDatabase(pgServer.server);
  dir = await tempDir();
  const c = await connect(db.url);
  await migrate(c, 'gh');
  await c.end();
  const store = new ConfigStore(db.url, 'gh');
  await store.commit(() => ({ ok: true, doc: config('one') }), { author: 'test' });
  await store.close();
  for (let i = 0; i < 3; i++) nodes.push(await startNode(`${dir.path}/snapshot-${i}.json`));
});
after(async () => {
  await Promise.all(gws.map((g) => g.stop()));
  pgServer.remove();
  await dir.remove();
});

test('database killed and restored: no failed request on any instance, one log line each, then a new change reaches all', async () => {
  let running = true;
  let requests = 0;
  const failures: string[] = [];
  const traffic = nodes.map(async (n) => {
    while (running) {
      try {
        const body = await served(n.url);
        requests++;
        if (body !== 'one' && body !== 'two') failures.push(body);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  });
  await sleep(200);
  pgServer.kill();
  // Several version checks and heartbeats fail meanwhile.
  await sleep(1500);
  const refused = await postConfig(nodes[0]!, 'during the outage');
  assert.equal(refused.status, 503);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'CONFIG_STORE_UNAVAILABLE');
  assert.equal((await fetch(nodes[1]!.admin + '/cluster')).status, 503);
  for (const n of nodes) assert.equal(await served(n.url), 'one');

  await pgServer.start();
  // The first call after the restart may still meet the pool's dead connections.
  await waitFor(
    'a change accepted once the database is back',
    async () => (await postConfig(nodes[0]!, 'two')).status === 200,
    15_000,
    100,
  );
  for (const n of nodes) await waitFor('serving the change made after the outage', async () => (await served(n.url)) === 'two', 15_000);
  running = false;
  await Promise.all(traffic);
  assert.deepEqual(failures, []);
  assert.ok(requests > 100, `${requests} requests during the outage`);
  for (const n of nodes) {
    const down = n.lines.filter((l) => l.msg.startsWith('config store unreachable'));
    assert.equal(down.length, 1, JSON.stringify(down));
    await waitFor('"reachable again" logged', () => n.lines.some((l) => l.msg === 'config store reachable again'), 5000);
    assert.equal(n.gw.instance.version, 2);
  }
});

test('an instance started while the database is down boots from its snapshot and catches up; without a snapshot it refuses', async () => {
  await waitFor('snapshot of version 2 written', async () => {
    const { readSnapshot } = await import('../src/controlplane/snapshot.js');
    return (await readSnapshot(nodes[0]!.snapshot))?.version === 2;
  });
  const copy = `${dir.path}/copied-snapshot.json`;
  await copyFile(nodes[0]!.snapshot, copy);
  pgServer.kill();

  await assert.rejects(
    startNode(`${dir.path}/none.json`),
    /the config store cannot be reached .* and there is no snapshot to start from .*none\.json does not exist/,
  );
  const late = await startNode(copy);
  assert.equal(late.gw.instance.version, 2);
  assert.equal(await served(late.url), 'two');
  assert.ok(late.lines.some((l) => l.msg.startsWith('config store unreachable: starting from the snapshot')));

  await pgServer.start();
  const store = new ConfigStore(db.url, 'gh');
  await waitFor(
    'database back',
    () =>
      store.latestVersion().then(
        () => true,
        () => false,
      ),
    15_000,
    100,
  );
  await store.commit(() => ({ ok: true, doc: config('three') }), { author: 'test' });
  await store.close();
  for (const n of [...nodes, late]) await waitFor('serving version 3', async () => (await served(n.url)) === 'three', 15_000);
  assert.equal(late.gw.instance.version, 3);
});
