// The worked plugin (examples/plugins/tenant) as a user's project builds and runs it: gatehouse
// packed with `npm pack` and unpacked into a scratch project, the plugin's TypeScript compiled
// against the packed .d.ts files, its own node:test run, the plugin installed in node_modules and
// loaded by package name by the packed CLI, and real requests through it to a real upstream.
// Also: the example's gatehouse.yaml validates once the plugin is built (test/examples.test.ts
// reads only the top level of examples/, so it never sees this folder).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { packedProject, ROOT, TSC, type PackedProject } from './helpers/packed.js';
import { maybeUnset } from './helpers/hooks.js';

const run = promisify(execFile);
const example = join(ROOT, 'examples/plugins/tenant');
const SECRET = 'change-me-change-me-change-me-32b'; // the example config's default HMAC secret

let pkg: PackedProject;
let plugin: string;
let up: Upstream;
let gateway: ChildProcess | undefined;
let base: string;

/** The packed CLI, to completion. */
async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [pkg.cli, ...args], { cwd, encoding: 'utf8', timeout: 15_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `gatehouse start` from the packed package; resolves with its listener's URL once it serves. */
function start(config: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [pkg.cli, 'start', '--config', config], {
      cwd: pkg.project,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    gateway = proc;
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`the gateway did not start in time\n${stderr}`)), 10_000);
    proc.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (code ${code})\n${stderr}`));
    });
  });
}

before(async () => {
  [pkg, up] = await Promise.all([packedProject(), startUpstream()]);
  // The example, as its own package inside the user's project (what `npm install` of it or a
  // workspace gives): node_modules/gatehouse-plugin-tenant links to it.
  plugin = join(pkg.project, 'tenant');
  cpSync(example, plugin, { recursive: true, filter: (src) => !/[\\/](node_modules|dist)$/.test(src) });
  symlinkSync(plugin, join(pkg.modules, 'gatehouse-plugin-tenant'), 'dir');
});
after(async () => {
  if (gateway && gateway.exitCode === null && gateway.signalCode === null) {
    const exited = new Promise((r) => gateway!.once('exit', r));
    gateway.kill('SIGKILL');
    await exited;
  }
  await maybeUnset(up)?.close();
  await maybeUnset(pkg)?.dir.remove();
});

test('the plugin compiles against the packed gatehouse types (NodeNext, strict) and its own tests pass', async () => {
  const built = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: plugin, encoding: 'utf8', timeout: 60_000 }).catch(
    (err: unknown) => {
      const { stdout, stderr } = err as { stdout: string; stderr: string }; // execFile's error carries the output
      assert.fail(`tsc failed:\n${stdout}${stderr}`);
    },
  );
  assert.equal(built.stderr, '');
  const declared = readFileSync(join(plugin, 'dist/index.d.ts'), 'utf8');
  assert.match(declared, /PolicyDefinition</, 'its types are declared for users of the plugin');
  // Without this runner's NODE_TEST_CONTEXT, which would make the child report to it instead.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const own = await run(process.execPath, ['--test', '--test-reporter=tap', 'dist/index.test.js'], {
    cwd: plugin,
    env,
    encoding: 'utf8',
    timeout: 30_000,
  }).catch((err: unknown) => {
    assert.fail(`the plugin's own tests failed:\n${(err as { stdout: string }).stdout}`);
  });
  assert.match(own.stdout, /^# fail 0$/m);
  assert.match(own.stdout, /^# pass [1-9]/m);
});

test("the example's gatehouse.yaml validates with the built plugin", async () => {
  const r = await cli(['validate', '--config', 'gatehouse.yaml'], plugin);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /ok \(2 routes/);
});

test('a gateway loads the plugin by package name and guards real traffic with it', async () => {
  // The example config, with the plugin named as an installed package and listeners for a test.
  const text = readFileSync(join(example, 'gatehouse.yaml'), 'utf8');
  const config = `accessLog: false\nlog: { level: warn }\nadmin: { port: 0, host: 127.0.0.1 }\n${text
    .replace('  - ./dist/index.js', '  - gatehouse-plugin-tenant')
    .replace('listen:\n  - port: 8080\n', 'listen: [{ port: 0, host: 127.0.0.1 }]\n')}`;
  assert.match(config, /- gatehouse-plugin-tenant/);
  assert.match(config, /listen: \[\{ port: 0/);
  writeFileSync(join(pkg.project, 'gatehouse.yaml'), config);
  base = await start('gatehouse.yaml', { ORDERS_URL: up.url });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(base + path, { headers });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  };

  // An allowed tenant: through, with the tenant (and acme's shard) forwarded; a client's own
  // x-tenant-id is replaced.
  const acme = await get('/orders/7', { 'x-tenant': 'acme', 'x-tenant-id': 'globex' });
  assert.equal(acme.status, 200, acme.text);
  let seen = up.seen.at(-1)!;
  assert.equal(seen.url, '/orders/7');
  assert.equal(seen.headers['x-tenant-id'], 'acme');
  assert.equal(seen.headers['x-shard'], 'eu-1');
  const globex = await get('/orders', { 'x-tenant': 'globex' });
  assert.equal(globex.status, 200);
  seen = up.seen.at(-1)!;
  assert.equal(seen.headers['x-tenant-id'], 'globex');
  assert.equal(seen.headers['x-shard'], undefined);

  // Unknown or missing tenant: 403 with the gateway's JSON error; the upstream never sees it.
  const hits = up.hits;
  for (const headers of [{ 'x-tenant': 'initech' }, {}] as Record<string, string>[]) {
    const r = await get('/orders/7', headers);
    assert.equal(r.status, 403, JSON.stringify(headers));
    const body = JSON.parse(r.text) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'GW_FORBIDDEN');
    assert.match(body.error.message, /tenant/);
  }
  assert.equal(up.hits, hits);

  // The claim route: the tenant comes from the token jwt verified, not from a header.
  const token = (org: string) =>
    new SignJWT({ org })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://idp.example.com')
      .setAudience('reports')
      .setSubject('user-1')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
  const mine = await get('/reports/q3', { authorization: `Bearer ${await token('acme')}` });
  assert.equal(mine.status, 200, mine.text);
  assert.equal(up.seen.at(-1)!.headers['x-tenant-id'], 'acme');
  assert.equal((await get('/reports/q3', { authorization: `Bearer ${await token('initech')}`, 'x-tenant': 'acme' })).status, 403);
  assert.equal((await get('/reports/q3', { 'x-tenant': 'acme' })).status, 401, 'no token: jwt answers before the tenant policy');
});

test('gatehouse validate reports a bad tenant entry as path: message', async () => {
  const bad = `plugins: [gatehouse-plugin-tenant]
services:
  up: { targets: [{ url: "${up.url}" }] }
routes:
  - { name: a, service: up, policies: [{ type: tenant, allow: [acme], hedaer: x-org }] }
  - { name: b, service: up, policies: [{ type: tenant, allow: [acme], upstreamHeaders: { initech: { x-shard: us-1 } } }] }
`;
  writeFileSync(join(pkg.project, 'bad.yaml'), bad);
  const r = await cli(['validate', '--config', 'bad.yaml'], pkg.project);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.includes('routes[0].policies[0].hedaer: unknown key "hedaer" (did you mean "header"?)'), r.stderr);
  assert.ok(lines.includes('routes[1].policies[0].upstreamHeaders.initech: tenant "initech" is not in allow'), r.stderr);
});
