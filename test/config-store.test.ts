// The config store against a real PostgreSQL (a database of this file's own): migrations and the
// schema check, versions made one at a time under concurrency, no-op changes, diffs, and the
// CLI's migrate / export / apply round trip (GitOps without drift).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import pg from 'pg';
import { checkSchema, migrate, SchemaMismatchError, SCHEMA_VERSION } from '../src/controlplane/migrations.js';
import { ConfigStore } from '../src/controlplane/store.js';
import { diffDocuments, formatDiff } from '../src/controlplane/document.js';
import { createDatabase, type TestDatabase } from './helpers/postgres.js';
import { runCli, tempDir, type TempDir } from './helpers/child.js';

let db: TestDatabase;
let client: pg.Client;
let dir: TempDir;
const stores: ConfigStore[] = [];

before(async () => {
  db = await createDatabase();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  dir = await tempDir();
});
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await client.end();
  await db.drop();
  await dir.remove();
});

function store(schema: string): ConfigStore {
  const s = new ConfigStore(db.url, schema);
  stores.push(s);
  return s;
}

const bootYaml = (schema: string) =>
  `listen: [{ port: 0, host: 127.0.0.1 }]\nadmin: { port: 0, host: 127.0.0.1 }\nlog: { level: silent }\nconfigStore: { type: postgres, url: "${db.url}", schema: ${schema} }\n`;

test('an unmigrated schema is refused as too old, migrate brings it to the code’s level once, a newer one is refused too', async () => {
  await assert.rejects(checkSchema(client, 'mig'), (err: Error) => {
    assert.ok(err instanceof SchemaMismatchError);
    assert.match(err.message, /at migration 0, this gatehouse needs 1: run `gatehouse migrate`/);
    return true;
  });
  assert.deepEqual(await migrate(client, 'mig'), { from: 0, to: SCHEMA_VERSION });
  assert.deepEqual(await migrate(client, 'mig'), { from: SCHEMA_VERSION, to: SCHEMA_VERSION });
  await checkSchema(client, 'mig');
  await client.query(`INSERT INTO mig.schema_migrations (version) VALUES ($1)`, [SCHEMA_VERSION + 1]);
  await assert.rejects(checkSchema(client, 'mig'), /newer than this gatehouse knows \(1\): upgrade gatehouse/);
  await assert.rejects(migrate(client, 'mig'), SchemaMismatchError);
});

test('gatehouse start refuses an unmigrated store with a clear error (exit 3), and a boot file that holds routes (exit 1)', async () => {
  const boot = await dir.file('boot-unmigrated.yaml', bootYaml('never_migrated'));
  const r = await runCli(['start', '-c', boot]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(
    r.stderr,
    /could not start: the config store's schema is at migration 0, this gatehouse needs 1: run `gatehouse migrate` first/,
  );

  const withRoutes = await dir.file('boot-routes.yaml', bootYaml('never_migrated') + 'routes: []\nservices: {}\n');
  const r2 = await runCli(['start', '-c', withRoutes]);
  assert.equal(r2.code, 1, r2.stderr);
  assert.match(r2.stderr, /^routes: with configStore this lives in the config store/m);
  assert.match(r2.stderr, /^services: with configStore/m);
});

test('concurrent changes from two stores get consecutive versions, never the same one twice', async () => {
  await migrate(client, 'conc');
  const a = store('conc');
  const b = store('conc');
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).commit(() => ({ ok: true, doc: { n: i } }), { author: `w${i % 2}` })),
  );
  const versions = results.map((r) => (r.ok ? r.version : -1)).sort((x, y) => x - y);
  assert.deepEqual(
    versions,
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  // Each version holds the document its writer built.
  for (const r of results) {
    assert.ok(r.ok);
    assert.deepEqual((await a.get(r.version))!.doc, r.doc);
  }
  assert.equal(await a.latestVersion(), 20);
});

test('the same document makes no version; a refused change makes none; the builder sees the latest version', async () => {
  await migrate(client, 'noop');
  const s = store('noop');
  const first = await s.commit(() => ({ ok: true, doc: { routes: [], b: 1, a: 2 } }), { author: 'me', comment: 'first' });
  assert.deepEqual(first, { ok: true, version: 1, doc: { routes: [], b: 1, a: 2 }, unchanged: false });
  const again = await s.commit(() => ({ ok: true, doc: { a: 2, routes: [], b: 1 } }), { author: 'me' });
  assert.equal(again.ok && again.unchanged, true);
  const refused = await s.commit(() => ({ ok: false, refusal: 'no' }), { author: 'me' });
  assert.deepEqual(refused, { ok: false, refusal: 'no' });
  let seen: number | undefined;
  await s.commit(
    async (latest) => {
      seen = latest?.version;
      return { ok: true, doc: { ...(await latest!.doc()), a: 3 } };
    },
    { author: 'you', comment: 'second' },
  );
  assert.equal(seen, 1);
  const list = await s.list(10);
  assert.deepEqual(
    list.map((v) => [v.version, v.author, v.comment]),
    [
      [2, 'you', 'second'],
      [1, 'me', 'first'],
    ],
  );
  assert.ok(!Number.isNaN(Date.parse(list[0]!.createdAt)));
});

test('diffDocuments lists what changed leaf by leaf', () => {
  const changes = diffDocuments(
    { routes: [{ name: 'a', match: { paths: ['/a'] } }], services: { x: 1, y: 2 } },
    { routes: [{ name: 'a', match: { paths: ['/b'] } }, { name: 'c' }], services: { x: 1, z: 3 } },
  );
  assert.equal(
    formatDiff(changes),
    ['~ routes[0].match.paths[0]: "/a" → "/b"', '+ routes[1]: {"name":"c"}', '- services.y: 2', '+ services.z: 3'].join('\n'),
  );
  assert.deepEqual(diffDocuments({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), []);
});

test('gatehouse migrate / apply / export: the exported config applied again is a no-op; --dry-run shows the diff and writes nothing', async () => {
  const boot = await dir.file('boot-cli.yaml', bootYaml('cli'));
  let r = await runCli(['migrate', '-c', boot]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /schema "cli" migrated from 0 to 1/);
  r = await runCli(['migrate', '-c', boot]);
  assert.match(r.stdout, /schema "cli" is up to date \(migration 1\)/);

  const config = await dir.file(
    'config.yaml',
    `services:\n  api: { targets: [{ url: "http://127.0.0.1:1" }] }\nroutes:\n  - name: r\n    match: { paths: ["/a"] }\n    service: api\n`,
  );
  r = await runCli(['apply', '-c', boot, '-f', config, '--author', 'alice', '--comment', 'first cut']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'version 1 written\n');

  const exported = `${dir.path}/exported.yaml`;
  r = await runCli(['export', '-c', boot, '-o', exported]);
  assert.equal(r.code, 0, r.stderr);
  const text = await readFile(exported, 'utf8');
  assert.match(text, /^# gatehouse config version 1\n/);
  assert.match(text, /name: r/);
  assert.doesNotMatch(text, /^(listen|admin|configStore):/m);

  r = await runCli(['apply', '-c', boot, '-f', exported]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'no changes: version 1 is the same\n');
  // The source file too: its defaults are what the export spells out.
  r = await runCli(['apply', '-c', boot, '-f', config, '--dry-run']);
  assert.equal(r.stdout, 'no changes\n');

  const changed = await dir.file('changed.yaml', text.replace('- /a', '- /b'));
  r = await runCli(['apply', '-c', boot, '-f', changed, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '~ routes[0].match.paths[0]: "/a" → "/b"\n1 change (dry run: nothing written)\n');

  const invalid = await dir.file('invalid.yaml', text.replace('service: api', 'service: nope'));
  r = await runCli(['apply', '-c', boot, '-f', invalid]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /routes\[0\]\.service: .*nope/);
  const bootKey = await dir.file('bootkey.yaml', 'listen: [{ port: 1 }]\n');
  r = await runCli(['apply', '-c', boot, '-f', bootKey]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^listen: a boot key/m);

  const versions = await store('cli').list(10);
  assert.deepEqual(
    versions.map((v) => [v.version, v.author, v.comment]),
    [[1, 'alice', 'first cut']],
  );
  r = await runCli(['apply', '-c', boot, '-f', changed]);
  assert.equal(r.stdout, 'version 2 written\n');
});

test('gatehouse export -o writes a file only its owner can read; apply --dry-run does not print a changed consumer key', async () => {
  const boot = await dir.file('boot-secrets.yaml', bootYaml('secrets'));
  assert.equal((await runCli(['migrate', '-c', boot])).code, 0);
  const config = (key: string) =>
    `services:\n  api: { targets: [{ url: "http://127.0.0.1:1" }] }\nconsumers:\n  - id: app\n    credentials: [{ type: api-key, key: ${key} }]\n`;
  const first = await dir.file('secrets-1.yaml', config('first-secret-key-0123456789'));
  let r = await runCli(['apply', '-c', boot, '-f', first]);
  assert.equal(r.code, 0, r.stderr);
  // The export holds every consumer's key: it is as secret as the store.
  const exported = `${dir.path}/secrets-exported.yaml`;
  r = await runCli(['export', '-c', boot, '-o', exported]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(await readFile(exported, 'utf8'), /first-secret-key/);
  assert.equal((await stat(exported)).mode & 0o777, 0o600);
  // A dry run's output ends up in CI logs: the diff names the change, not the keys.
  const second = await dir.file('secrets-2.yaml', config('second-secret-key-0123456789'));
  r = await runCli(['apply', '-c', boot, '-f', second, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /consumers\[0\]\.credentials\[0\]\.key/);
  assert.doesNotMatch(r.stdout, /first-secret-key|second-secret-key/);
});
