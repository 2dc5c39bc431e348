// An admin API reachable from the network without a token is refused by `gatehouse validate`,
// `gatehouse start` and POST /config alike; `admin.allowRemoteWithoutToken: true` starts it with
// a warning in the log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, startChild, tempDir, killAllChildren, type TempDir } from './helpers/child.js';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';

let dir: TempDir;
let gw: TestGateway;
before(async () => {
  dir = await tempDir();
  gw = await startTestGateway({ services: { s: { targets: [{ url: 'http://127.0.0.1:3001' }] } }, routes: [{ name: 'r', service: 's' }] });
});
after(async () => {
  await killAllChildren();
  await gw.stop();
  await dir.remove();
});

const config = (admin: string) => `
log: { level: info }
accessLog: false
listen: [{ port: 0, host: 127.0.0.1 }]
admin: ${admin}
services:
  s: { targets: [{ url: "http://127.0.0.1:3001" }] }
routes:
  - { name: r, service: s }
`;

const ADMIN_TOKEN_ERROR = /^admin\.token: the admin API listens on 0\.0\.0\.0 \(not loopback\) and has no token/m;

test('validate: an admin API on 0.0.0.0 without a token exits 1 with an admin.token error', async () => {
  for (const admin of [
    '{ port: 0, host: 0.0.0.0 }',
    '{ port: 0, host: 0.0.0.0, token: "  " }',
    '{ port: 0, host: 0.0.0.0, token: "${GH_NO_SUCH_VAR:-}" }',
  ]) {
    const file = await dir.file('open-admin.yaml', config(admin));
    const r = await runCli(['validate', '-c', file]);
    assert.equal(r.code, 1, `${admin}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, ADMIN_TOKEN_ERROR, admin);
  }
});

test('validate: loopback without a token, a token, or the opt-out pass', async () => {
  for (const admin of [
    '{ port: 0, host: 127.0.0.1 }',
    '{ port: 0, host: "::1" }',
    '{ port: 0, host: localhost }',
    '{ port: 0, host: 0.0.0.0, token: s3cret }',
    '{ port: 0, host: 0.0.0.0, allowRemoteWithoutToken: true, console: false }',
  ]) {
    const file = await dir.file('admin-ok.yaml', config(admin));
    const r = await runCli(['validate', '-c', file]);
    assert.equal(r.code, 0, `${admin}\n${r.stdout}${r.stderr}`);
  }
});

test('start: an admin API on 0.0.0.0 without a token does not start (exit 1)', async () => {
  const file = await dir.file('start-open-admin.yaml', config('{ port: 0, host: 0.0.0.0 }'));
  const r = await runCli(['start', '-c', file], { timeoutMs: 10_000 });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, ADMIN_TOKEN_ERROR);
  assert.doesNotMatch(r.stderr, /serving on/);
});

test('start: allowRemoteWithoutToken starts and logs a warning naming the risk', async () => {
  const file = await dir.file('start-optout.yaml', config('{ port: 0, host: 0.0.0.0, allowRemoteWithoutToken: true, console: false }'));
  const child = await startChild(file);
  try {
    const warnings = child.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; msg: string; host?: string })
      .filter((l) => l.level === 'warn' && /admin API/.test(l.msg));
    assert.equal(warnings.length, 1, child.stderr);
    assert.match(warnings[0]!.msg, /without a token/);
    assert.equal(warnings[0]!.host, '0.0.0.0');
  } finally {
    await child.kill();
  }
});

test('POST /config: an admin API on 0.0.0.0 without a token is CONFIG_INVALID at admin.token', async () => {
  const body = testConfig({
    services: { s: { targets: [{ url: 'http://127.0.0.1:3001' }] } },
    routes: [{ name: 'r', service: 's' }],
    admin: { host: '0.0.0.0' },
  });
  for (const path of ['/config', '/validate']) {
    const res = await fetch(gw.adminUrl + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { error: { code: string; details: { path: string; message: string }[] } };
    assert.equal(res.status, 400, JSON.stringify(json));
    assert.equal(json.error.code, 'CONFIG_INVALID');
    assert.deepEqual(
      json.error.details.map((d) => d.path),
      ['admin.token'],
    );
  }
  // Nothing changed.
  const ready = (await (await fetch(gw.adminUrl + '/ready')).json()) as { configVersion: number };
  assert.equal(ready.configVersion, 1);
});

test('startGateway({ config }) from code applies the same rule (the package API skips the file loader)', async () => {
  const { startGateway, ConfigLoadError } = await import('../src/gateway.js');
  const { validateConfig } = await import('../src/validation/validate.js');
  const { silentLogger } = await import('../src/observability/logger.js');
  const valid = validateConfig(
    testConfig({ services: { s: { targets: [{ url: 'http://127.0.0.1:3001' }] } }, routes: [{ name: 'r', service: 's' }] }),
  );
  assert.ok(valid.ok);
  // A config object built or changed in code, never validated with this admin block.
  const config = { ...valid.config, admin: { ...valid.config.admin, host: '0.0.0.0', token: undefined } };
  await assert.rejects(startGateway({ config, logger: silentLogger }), (err: unknown) => {
    assert.ok(err instanceof ConfigLoadError);
    assert.deepEqual(
      err.errors.map((e) => e.path),
      ['admin.token'],
    );
    return true;
  });
});

test('startGateway({ config }) with no admin.host listens on loopback, as a file would (it listened on every interface)', async () => {
  const { startGateway } = await import('../src/gateway.js');
  const { silentLogger } = await import('../src/observability/logger.js');
  // A plain JavaScript caller may leave out what the file loader would default.
  const config = {
    accessLog: false,
    log: { level: 'silent' },
    listen: [{ port: 0, host: '127.0.0.1' }],
    admin: { enabled: true, port: 0 },
  } as never;
  const gw = await startGateway({ config, logger: silentLogger });
  try {
    assert.equal(gw.admin?.host, '127.0.0.1');
    const res = await fetch(`http://127.0.0.1:${gw.admin.port}/health`);
    assert.equal(res.status, 200);
  } finally {
    await gw.stop();
  }
});
