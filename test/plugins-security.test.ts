// Security review of typed in-process plugins (issue 16): what the admin API can make the gateway
// load or reveal, and what a careless plugin can do to the process and to its requests. Each test
// drives the gateway as a client (or an admin) would. A test marked `todo` shows a defect that is
// still open (its reason names the place); the rest pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { request } from 'undici';
import { pluginConfig } from './helpers/plugin-config.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { childPids, freePort, killAllChildren, runCli, sleep, startChild, tempDir, waitFor, type TempDir } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';
import { startGateway, type Gateway } from '../src/gateway.js';

const api = pathToFileURL(fileURLToPath(new URL('../src/index.js', import.meta.url))).href;
const imp = `import { definePolicy, z } from ${JSON.stringify(api)};`;

// A plugin whose access phase answers whatever verdict its config names, synchronously or not.
const VERDICT = `${imp}
const verdicts = {
  status99: { status: 99 },
  status1000: { status: 1000 },
  status103: { status: 103, body: 'early' },
  statusText: { status: 'teapot' },
  crlfHeader: { status: 403, headers: { 'x-ok': 'kept?', 'x-a': 'a\\r\\nx-injected: 1' } },
  badHeaderName: { status: 403, headers: { 'bad name': 'x' } },
  headersString: { status: 403, headers: 'x-a: 1' },
  bodyNumber: { status: 403, body: 5 },
  bodyObject: { status: 403, body: { a: 1 } },
  unknownCode: { status: 403, code: 'NOPE_NOT_A_CODE' },
  protoCode: { status: 403, code: 'constructor' },
  nullVerdict: null,
  stringVerdict: 'deny',
  trueVerdict: true,
  thenGetterThrows: { get then() { throw new Error('secret then 77'); } },
  ok: { status: 418, body: 'short and stout', headers: { 'x-tea': 'yes' } },
};
export default definePolicy({
  type: 'verdict',
  description: 'Answers the verdict its config names.',
  schema: z.strictObject({ type: z.literal('verdict'), mode: z.string(), async: z.boolean().default(false) }),
  phases: ['access'],
  example: { mode: 'ok' },
  timeout: 300,
  create(config) {
    return {
      access() {
        const v = verdicts[config.mode];
        return config.async ? Promise.resolve(v) : v;
      },
    };
  },
});
`;

// A plugin whose create() or close() misbehaves.
const LIFECYCLE = `${imp}
export default definePolicy({
  type: 'lifecycle',
  description: 'Misbehaves when created or closed.',
  schema: z.strictObject({ type: z.literal('lifecycle'), mode: z.enum(['ok', 'create-throw', 'close-throw', 'floating-reject', 'access-getter-throws', 'nan-limit']) }),
  phases: ['access'],
  example: { mode: 'ok' },
  create(config) {
    if (config.mode === 'create-throw') throw new Error('create secret 4242');
    if (config.mode === 'floating-reject') Promise.reject(new Error('floating secret'));
    if (config.mode === 'access-getter-throws') return { get access() { throw new Error('getter secret'); } };
    if (config.mode === 'nan-limit') return { maxBodyBytes: 'lots', access() { return undefined; } };
    return {
      access() { return undefined; },
      close() { if (config.mode === 'close-throw') throw new Error('close secret'); },
    };
  },
});
`;

// Hangs, then answers late: the late answer must not become a second response.
const LATE = `${imp}
export default definePolicy({
  type: 'late',
  description: 'Answers after its timeout.',
  schema: z.strictObject({ type: z.literal('late') }),
  phases: ['access'],
  example: {},
  timeout: 100,
  create() {
    return { access() { return new Promise((r) => setTimeout(() => { globalThis.__gatehouseLateSettled = true; r({ status: 403, body: 'late' }); }, 300)); } };
  },
});
`;

let dir: TempDir;
let up: Upstream;
let gw: Gateway;
let base: string;
let adminUrl: string;
const logLines: Record<string, unknown>[] = [];

function configText(extra: string, plugins: string[]): string {
  return pluginConfig(up.url, extra, plugins, 'info');
}

const MODES = [
  'status99',
  'status1000',
  'status103',
  'statusText',
  'crlfHeader',
  'badHeaderName',
  'headersString',
  'bodyNumber',
  'bodyObject',
  'unknownCode',
  'protoCode',
  'nullVerdict',
  'stringVerdict',
  'trueVerdict',
  'thenGetterThrows',
];

const ROUTES = `
routes:
${MODES.flatMap((m) => [
  `  - { name: s-${m}, match: { paths: [/sync/${m}] }, service: up, policies: [{ type: verdict, mode: ${m} }] }`,
  `  - { name: a-${m}, match: { paths: [/async/${m}] }, service: up, policies: [{ type: verdict, mode: ${m}, async: true }] }`,
]).join('\n')}
  - { name: ok, match: { paths: [/ok] }, service: up, policies: [{ type: verdict, mode: ok }] }
  - { name: late, match: { paths: [/late] }, service: up, policies: [{ type: late }] }
  - { name: closing, match: { paths: [/closing] }, service: up, policies: [{ type: lifecycle, mode: close-throw }] }
  - { name: plain, match: { paths: [/plain] }, service: up }
`;

const PLUGINS = ['./plugins/verdict.js', './plugins/lifecycle.js', './plugins/late.js'];

before(async () => {
  dir = await tempDir();
  up = await startUpstream();
  mkdirSync(join(dir.path, 'plugins'));
  writeFileSync(join(dir.path, 'plugins', 'verdict.js'), VERDICT);
  writeFileSync(join(dir.path, 'plugins', 'lifecycle.js'), LIFECYCLE);
  writeFileSync(join(dir.path, 'plugins', 'late.js'), LATE);
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) logLines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const path = await dir.file('gatehouse.yaml', configText(ROUTES, PLUGINS));
  gw = await startGateway({ configPath: path, logger: pino({ level: 'info' }, sink), watch: false });
  base = gw.listeners[0]!.url;
  adminUrl = `http://127.0.0.1:${gw.admin!.port}`;
});
after(async () => {
  await maybeUnset(gw)?.stop();
  await killAllChildren();
  await up.close();
  await dir.remove();
});

async function get(path: string) {
  const res = await request(base + path, { headersTimeout: 3000, bodyTimeout: 3000, reset: true });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

async function admin(method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(adminUrl + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.statusCode,
    body: (await res.body.json()) as { error?: { code: string; details?: { path: string; message: string }[] } } & Record<string, unknown>,
  };
}

// ---- the admin API never loads, reads or probes a module ----

test('admin API: no spelling of a plugin URL loads a module or tells one file from another', async () => {
  const current = (await admin('GET', '/config')).body as unknown as { plugins: string[] };
  const loaded = current.plugins[0]!;
  writeFileSync(join(dir.path, 'plugins', 'evil.js'), 'globalThis.__gatehouseEvilRan = true; export default {};');
  const tricks = [
    `${loaded}?v=2`,
    `${loaded}#x`,
    loaded.toUpperCase(),
    loaded.replace('/plugins/', '/plugins/../plugins/'),
    loaded.replace('/plugins/', '/plugins/./'),
    loaded.replace('file:///', 'file://localhost/'),
    loaded.replace('verdict.js', 'evil.js'),
    pathToFileURL(join(dir.path, 'plugins', 'evil.js')).href,
    './plugins/evil.js',
    '../../../../../../etc/passwd',
    'file:///etc/passwd',
    'file:///no/such/file.js',
    'data:text/javascript,globalThis.__gatehouseEvilRan=true;export default {}',
    'node:child_process',
    'zod',
    'undici',
  ];
  const messages: string[] = [];
  for (const spec of tricks) {
    for (const endpoint of ['/validate', '/config']) {
      const r = await admin('POST', endpoint, { ...current, plugins: [spec] });
      assert.equal(r.status, 400, `${endpoint} ${spec}`);
      const detail = r.body.error!.details!.find((d) => d.path === 'plugins[0]');
      assert.ok(detail, `${endpoint} ${spec}: ${JSON.stringify(r.body)}`);
      messages.push(detail.message.replace(JSON.stringify(spec), '<spec>'));
    }
  }
  assert.equal(new Set(messages).size, 1, `one message whatever the file: ${[...new Set(messages)].join(' | ')}`);
  assert.equal((globalThis as { __gatehouseEvilRan?: boolean }).__gatehouseEvilRan, undefined, 'no module ran');
  // The loaded URL exactly is still accepted.
  assert.equal((await admin('POST', '/validate', current)).status, 200);
});

test('admin API: a config that drops a plugin its routes still use is refused; the current one keeps serving', async () => {
  const current = (await admin('GET', '/config')).body as unknown as { plugins: string[] };
  const r = await admin('POST', '/config', { ...current, plugins: current.plugins.filter((u) => !u.endsWith('/verdict.js')) });
  assert.equal(r.status, 400);
  assert.match(JSON.stringify(r.body), /unknown policy type/);
  assert.equal((await get('/ok')).status, 418);
});

// ---- a plugin's malformed verdict ----

for (const kind of ['sync', 'async']) {
  test(`a malformed verdict (${kind}) answers 500 GW_POLICY_ERROR, within its time, with nothing of it sent, and is logged with type and request id`, async () => {
    const wrong: string[] = [];
    for (const mode of MODES) {
      const r = await get(`/${kind}/${mode}`).catch((err: unknown) => ({
        status: -1,
        headers: {},
        text: err instanceof Error ? err.message : String(err),
      }));
      const code = r.status === 500 ? (JSON.parse(r.text) as { error: { code: string } }).error.code : '';
      if (r.status !== 500 || code !== 'GW_POLICY_ERROR' || 'x-injected' in r.headers || 'x-ok' in r.headers || /secret/.test(r.text)) {
        wrong.push(`${mode}: ${r.status} ${code || r.text.slice(0, 80)}`);
      }
    }
    assert.deepEqual(wrong, []);
    const logged = logLines.filter((l) => l['policy'] === 'verdict' && typeof l['requestId'] === 'string');
    assert.ok(logged.length >= MODES.length, `each is logged with the plugin type and request id (${logged.length})`);
    // A well-formed verdict still goes out as the plugin wrote it, and the gateway goes on.
    const ok = await get('/ok');
    assert.equal(ok.status, 418);
    assert.equal(ok.text, 'short and stout');
    assert.equal(ok.headers['x-tea'], 'yes');
    assert.equal((await get('/plain')).status, 200);
  });
}

// ---- timeouts ----

test('a phase that answers after its timeout: one 500 GW_POLICY_ERROR; the late answer is dropped', async () => {
  const r = await get('/late');
  assert.equal(r.status, 500);
  assert.match(r.text, /GW_POLICY_ERROR/);
  await waitFor('the late answer', () => (globalThis as { __gatehouseLateSettled?: boolean }).__gatehouseLateSettled, 2000);
  assert.equal((await get('/plain')).status, 200, 'the gateway goes on');
  assert.ok(
    logLines.some(
      (l) =>
        l['policy'] === 'late' &&
        typeof l['requestId'] === 'string' &&
        String((l['err'] as { message?: string } | undefined)?.message).includes('did not answer within 100 ms'),
    ),
  );
});

// ---- create() and close() ----

test("a plugin's create() that throws refuses the config (admin: 400), never a crash; close() that throws is only logged", async () => {
  const current = (await admin('GET', '/config')).body as unknown as { routes: unknown[] };
  const withThrow = {
    ...current,
    routes: [
      ...current.routes,
      { name: 'ct', match: { paths: ['/ct'] }, service: 'up', policies: [{ type: 'lifecycle', mode: 'create-throw' }] },
    ],
  };
  for (const endpoint of ['/validate', '/config']) {
    const r = await admin('POST', endpoint, withThrow);
    assert.equal(r.status, 400, `${endpoint}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error!.code, 'CONFIG_INVALID');
  }
  // Applying a config closes the previous plan: the throwing close() is logged, the gateway goes on.
  assert.equal((await admin('POST', '/config', current)).status, 200);
  assert.equal((await admin('POST', '/config', current)).status, 200);
  assert.equal((await get('/plain')).status, 200);
});

test("a plugin limit that is not a number of bytes refuses the config (it would switch off the route's request-size-limit)", async () => {
  const current = (await admin('GET', '/config')).body as unknown as { routes: unknown[] };
  const r = await admin('POST', '/validate', {
    ...current,
    routes: [
      ...current.routes,
      {
        name: 'nan',
        match: { paths: ['/nan'] },
        service: 'up',
        policies: [
          { type: 'request-size-limit', maxBody: 10 },
          { type: 'lifecycle', mode: 'nan-limit' },
        ],
      },
    ],
  });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.match(JSON.stringify(r.body), /maxBodyBytes must be a whole number of bytes/);
});

test('a plugin whose create() throws stops `gatehouse validate` with a config error, not an internal one', async () => {
  const path = await dir.file(
    'create-throw.yaml',
    configText(
      `
routes:
  - { name: r, service: up, policies: [{ type: lifecycle, mode: create-throw }] }
`,
      ['./plugins/lifecycle.js'],
    ),
  );
  const r = await runCli(['validate', '--config', path]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^routes\[0\]\.policies\[0\]: plugin policy "lifecycle" could not be created: /m);
  const start = await runCli(['start', '--config', path]);
  assert.equal(start.code, 1, start.stderr);
  assert.match(start.stderr, /routes\[0\]\.policies\[0\]: plugin policy "lifecycle" could not be created/);
});

test('a rejection a plugin leaves floating in create() costs no process', async () => {
  const path = await dir.file(
    'floating.yaml',
    configText(
      `
routes:
  - { name: f, match: { paths: [/f] }, service: up, policies: [{ type: lifecycle, mode: floating-reject }] }
`,
      ['./plugins/lifecycle.js'],
    ),
  );
  const child = await startChild(path);
  const res = await request(`${child.url}/f`);
  await res.body.dump();
  assert.equal(res.statusCode, 200);
  assert.ok(child.isRunning());
});

test('a plugin policy whose `access` getter throws is a config error, not an internal one', async () => {
  const getter = await dir.file(
    'getter.yaml',
    configText(
      `
routes:
  - { name: g, match: { paths: [/g] }, service: up, policies: [{ type: lifecycle, mode: access-getter-throws }] }
`,
      ['./plugins/lifecycle.js'],
    ),
  );
  const v = await runCli(['validate', '--config', getter]);
  assert.equal(v.code, 1, v.stderr);
  assert.match(v.stderr, /^routes\[0\]\.policies\[0\]: plugin policy "lifecycle" could not be created: /m);
});

// ---- crafted definitions ----

test('crafted definitions that pass the shape checks are config errors at plugins[i], not a crash or an internal error', async () => {
  const mods: Record<string, string> = {
    // Two definitions of one type in one module (the "already defined" check looks at other modules only).
    'twice.js': `${imp}
const d = definePolicy({ type: 'twice', description: 'd', schema: z.strictObject({ type: z.literal('twice') }), phases: ['access'], example: {}, create: () => ({}) });
export default [d, d];`,
    // Something shaped like a zod schema that is not one.
    'fake-schema.js': `export default { type: 'fake', description: 'd', schema: { shape: { type: { value: 'fake' } } }, phases: ['access'], example: {}, create: () => ({}) };`,
    // A default export that throws when read.
    'proxy.js': `export default new Proxy({}, { get() { throw new Error('proxy secret'); } });`,
    // A multi-value literal: zod's .value getter throws.
    'multi.js': `${imp}
export default definePolicy({ type: 'multi', description: 'd', schema: z.strictObject({ type: z.literal(['multi', 'other']) }), phases: ['access'], example: {}, create: () => ({}) });`,
    // An example its own schema refuses.
    'bad-example.js': `${imp}
export default definePolicy({ type: 'bad-example', description: 'd', schema: z.strictObject({ type: z.literal('bad-example'), n: z.number() }), phases: ['access'], example: { n: 'x' }, create: () => ({}) });`,
  };
  const wrong: string[] = [];
  for (const [file, text] of Object.entries(mods)) {
    writeFileSync(join(dir.path, 'plugins', file), text);
    const path = await dir.file(`def-${file}.yaml`, configText('', [`./plugins/${file}`]));
    const r = await runCli(['validate', '--config', path]);
    if (r.code !== 1 || !/^plugins\[0\]: /m.test(r.stderr)) wrong.push(`${file}: exit ${r.code}: ${r.stderr.trim().split('\n')[0]}`);
  }
  assert.deepEqual(wrong, []);
});

test('a plugin reload that brings a crafted definition leaves the running config serving', async () => {
  writeFileSync(join(dir.path, 'plugins', 'proxy2.js'), `export default new Proxy({}, { get() { throw new Error('proxy secret'); } });`);
  const path = await dir.file(
    'reload.yaml',
    configText(
      `
routes:
  - { name: plain, match: { paths: [/plain] }, service: up }
`,
      [],
    ),
  );
  const child = await startChild(path);
  writeFileSync(
    path,
    configText(
      `
routes:
  - { name: plain, match: { paths: [/plain] }, service: up }
`,
      ['./plugins/proxy2.js'],
    ),
  );
  process.kill(child.pid, 'SIGHUP');
  await waitFor(
    'the reload to be refused',
    () => /config refused|plugins\[0\]/.test(child.stderr) || /unhandled|uncaught/.test(child.stderr),
    5000,
  );
  assert.doesNotMatch(
    child.stderr,
    /unhandled promise rejection|uncaught exception/,
    'a refused plugin is a refused config, not an escaped error',
  );
  const res = await request(`${child.url}/plain`);
  await res.body.dump();
  assert.equal(res.statusCode, 200);
});

// ---- workers ----

test('a replacement worker runs the code the primary loaded, not what the file holds now', async () => {
  const plugin = (tag: string) => `${imp}
export default definePolicy({ type: 'ver', description: 'd', schema: z.strictObject({ type: z.literal('ver') }), phases: ['access'], example: {},
  create: () => ({ access: () => ({ status: 200, body: '${tag}' }) }) });`;
  writeFileSync(join(dir.path, 'plugins', 'ver.js'), plugin('v1'));
  const port = await freePort();
  const path = await dir.file(
    'ver.yaml',
    configText(
      `
routes:
  - { name: v, match: { paths: [/v] }, service: up, policies: [{ type: ver }] }
`,
      ['./plugins/ver.js'],
    ).replace('listen: [{ port: 0, host: 127.0.0.1 }]', `workers: 2\nlisten: [{ port: ${port}, host: 127.0.0.1 }]`),
  );
  const child = await startChild(path, { timeoutMs: 20_000 });
  writeFileSync(join(dir.path, 'plugins', 'ver.js'), plugin('v2')); // edited on disk, no restart
  const [first] = childPids(child.pid);
  process.kill(first!, 'SIGKILL');
  await waitFor('a replacement worker', () => childPids(child.pid).length === 2 && !childPids(child.pid).includes(first!), 10_000);
  // Connections spread over the workers by the kernel: ask until the replacement has answered some.
  const seen = new Set<string>();
  for (const until = Date.now() + 8000; Date.now() < until && seen.size < 2;) {
    const res = await request(`${child.url}/v`, { reset: true }).catch(() => undefined);
    if (res) seen.add(await res.body.text());
    else await sleep(50);
  }
  assert.deepEqual([...seen], ['v1']);
  // The replacement refuses to serve other code, and says why.
  await waitFor('the refusal in the log', () => /changed on disk since the gateway loaded it/.test(child.stderr), 10_000);
});

// ---- what the admin API can read ----

test("the admin API cannot read the gateway's environment through plugins (or any echoed value)", async () => {
  process.env['GATEHOUSE_TEST_SECRET'] = 's3cr3t-value';
  const current = (await admin('GET', '/config')).body as unknown as { plugins: string[] };
  const r = await admin('POST', '/validate', { ...current, plugins: ['${GATEHOUSE_TEST_SECRET}'] });
  assert.doesNotMatch(JSON.stringify(r.body), /s3cr3t-value/);
});
