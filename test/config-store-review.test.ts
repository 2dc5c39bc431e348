// Review of the config store: a diff must not show what GET /config redacts, and a stored version
// another writer made that is not a config (JSON null, a list) is refused once while the instance
// keeps serving the last good one; it is not taken for a lost database. The snapshot file's mode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startGateway, type Gateway } from '../src/gateway.js';
import { validateConfig } from '../src/validation/validate.js';
import { migrate } from '../src/controlplane/migrations.js';
import { connect } from '../src/controlplane/pg.js';
import { validateStored } from '../src/controlplane/document.js';
import { readSnapshot, writeSnapshot } from '../src/controlplane/snapshot.js';
import { testBoot } from './helpers/gateway.js';
import { waitFor } from './helpers/child.js';
import { createDatabase, type TestDatabase } from './helpers/postgres.js';

let db: TestDatabase;
let gw: Gateway;
let admin: string;
let served: string;
const lines: { level: string; msg: string }[] = [];

before(async () => {
  db = await createDatabase();
  const c = await connect(db.url);
  await migrate(c, 'rv');
  await c.end();
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as { level: string; msg: string });
      cb();
    },
  });
  const log = pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, dest);
  const boot = validateConfig(
    testBoot({ type: 'postgres', url: db.url, schema: 'rv', pollIntervalMs: 3_600_000, heartbeatIntervalMs: 3_600_000 }),
  );
  assert.ok(boot.ok);
  gw = await startGateway({ config: boot.config, logger: log });
  admin = `http://127.0.0.1:${gw.admin!.port}`;
  served = gw.listeners[0]!.url;
});
after(async () => {
  await gw.stop();
  await db.drop();
});

function doc(body: string, key: string): string {
  return JSON.stringify({
    accessLog: false,
    services: { api: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    consumers: [{ id: 'app', credentials: [{ type: 'api-key', key }] }],
    routes: [{ name: 'r', match: { paths: ['/v'] }, service: 'api', policies: [{ type: 'request-termination', status: 200, body }] }],
  });
}

async function postConfig(body: string): Promise<number> {
  const res = await fetch(admin + '/config', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const answer = (await res.json()) as { configVersion: number };
  assert.equal(res.status, 200, JSON.stringify(answer));
  return answer.configVersion;
}

test('a diff of a changed consumer key does not show the key', async () => {
  const a = await postConfig(doc('one', 'first-secret-key-0123456789'));
  const b = await postConfig(doc('two', 'second-secret-key-0123456789'));
  const res = await fetch(`${admin}/config/diff?from=${a}&to=${b}`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  // The diff still says what changed, without the values.
  assert.match(text, /credentials\[0\]\.key/);
  for (const secret of ['first-secret-key', 'second-secret-key']) assert.ok(!text.includes(secret), text);
  const one = await (await fetch(`${admin}/config/versions/${b}`)).text();
  for (const secret of ['second-secret-key']) assert.ok(!one.includes(secret), one);
});

test('validateStored answers a document that is not an object as invalid rather than throwing', () => {
  // Nested deeper than validation can recurse (PostgreSQL stores 9000 levels of jsonb).
  let deep: Record<string, unknown> = {};
  const metadata = deep;
  for (let i = 0; i < 100_000; i++) deep = deep.a = {};
  for (const bad of [null, [], 'routes', 7, { consumers: [{ id: 'x', metadata }] }] as unknown[]) {
    const r = validateStored({}, bad);
    assert.equal(r.ok, false, typeof bad);
  }
});

test('a stored version that is not a config (JSON null, nested too deep) is refused once; the last good one keeps serving', async () => {
  const good = await postConfig(doc('good', 'k-0123456789abcdef'));
  assert.equal(await (await fetch(served + '/v')).text(), 'good');
  const c = await connect(db.url);
  try {
    const notify = (payload: string) => c.query(`SELECT pg_notify('gatehouse_config', $1)`, [payload]);
    const noticed = (n: number) =>
      waitFor(`bad version ${n} noticed`, () => lines.filter((l) => /refused|unreachable/.test(l.msg)).length >= n, 5000);
    await c.query(`INSERT INTO rv.config_versions (version, doc, author) VALUES ($1, 'null'::jsonb, 'intruder')`, [good + 1]);
    // Several notifications (one with a payload that is no number): each one makes a check.
    for (const payload of [String(good + 1), 'x; DROP TABLE rv.config_versions', String(good + 1)]) await notify(payload);
    await noticed(1);
    await notify(String(good + 1));
    // Nested deeper than validation can recurse: PostgreSQL stores it.
    const deep = `{"consumers":[{"id":"x","metadata":${'{"a":'.repeat(9000)}{}${'}'.repeat(9000)}}]}`;
    await c.query(`INSERT INTO rv.config_versions (version, doc, author) VALUES ($1, $2::jsonb, 'intruder')`, [good + 2, deep]);
    await notify(String(good + 2));
    await noticed(2);
    await notify(String(good + 2));
    // With the bad version the latest, a change through the admin API is still stored (it repairs the store).
    assert.equal(await postConfig(doc('repaired', 'k-0123456789abcdef')), good + 3);
    assert.equal(await (await fetch(served + '/v')).text(), 'repaired');
    // A later good version from the other writer is applied: the instance was never stuck.
    await c.query(`INSERT INTO rv.config_versions (version, doc, author) VALUES ($1, $2, 'other')`, [
      good + 4,
      doc('later', 'k-0123456789abcdef'),
    ]);
    await notify(String(good + 4));
  } finally {
    await c.end();
  }
  await waitFor('the later version applied', () => gw.instance.version === good + 4, 5000);
  assert.equal(await (await fetch(served + '/v')).text(), 'later');
  const msgs = lines.map((l) => l.msg);
  assert.ok(!msgs.some((m) => /unreachable/.test(m)), JSON.stringify(msgs));
  assert.equal(msgs.filter((m) => /config refused/.test(m)).length, 2, JSON.stringify(msgs));
});

test('a snapshot is written 0600 even over a leftover temporary file, and never through a symlink there', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-snap-'));
  try {
    const path = join(dir, 'snap.json');
    const tmp = `${path}.${process.pid}.tmp`;
    // A crash's leftover (pid 1 again in a container) with a looser mode.
    await writeFile(tmp, 'old', { mode: 0o644 });
    await chmod(tmp, 0o644);
    await writeSnapshot(path, { version: 3, doc: { consumers: [] } });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    // A symlink at the temporary name is replaced, not written through.
    const elsewhere = join(dir, 'elsewhere');
    await writeFile(elsewhere, 'untouched');
    await symlink(elsewhere, tmp);
    await writeSnapshot(path, { version: 4, doc: {} });
    assert.equal(await readFile(elsewhere, 'utf8'), 'untouched');
    assert.equal((await readSnapshot(path))?.version, 4);
    // A snapshot path that is a directory fails, and leaves no temporary copy of the config behind.
    const asDir = join(dir, 'adir');
    await mkdir(asDir);
    await assert.rejects(writeSnapshot(asDir, { version: 5, doc: {} }));
    assert.deepEqual((await readdir(dir)).sort(), ['adir', 'elsewhere', 'snap.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
