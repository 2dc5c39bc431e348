// Users' policies loaded by config (`plugins:`), driven as a client would: a plugin's type works
// in a route like a built-in, its config is validated with `path: message` errors, its faults
// answer 500 GW_POLICY_ERROR without harming the process, workers load it too, and the admin API
// can never make the gateway load a module.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { pluginConfig } from './helpers/plugin-config.js';
import { freePort, killAllChildren, runCli, startChild, tempDir, type TempDir } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/observability/logger.js';

const api = pathToFileURL(fileURLToPath(new URL('../src/index.js', import.meta.url))).href;
let dir: TempDir;
let up: Upstream;

// A plugin as a user writes it (plain JavaScript here; examples/plugins has the TypeScript one).
const TENANT = `
import { definePolicy, z } from ${JSON.stringify(api)};
export default definePolicy({
  type: 'tenant',
  description: 'Requires a tenant header from a list and passes it upstream as x-tenant-id.',
  schema: z.strictObject({
    type: z.literal('tenant'),
    header: z.string().default('x-tenant'),
    allow: z.array(z.string().min(1)).min(1),
  }),
  phases: ['access', 'upstreamRequest'],
  example: { allow: ['acme'] },
  validate(config, ctx, at) {
    return config.allow.includes('*') ? [{ path: at + '.allow', message: '"*" is not a tenant' }] : [];
  },
  create(config) {
    const allow = new Set(config.allow);
    return {
      access(ctx) {
        const t = ctx.req.headers[config.header];
        if (typeof t !== 'string' || !allow.has(t)) return { status: 403, body: 'unknown tenant' };
        return undefined;
      },
      upstreamRequest(ctx, headers) { headers.push('x-tenant-id', String(ctx.req.headers[config.header])); },
    };
  },
});
`;

const FAULTY = `
import { definePolicy, z } from ${JSON.stringify(api)};
export default definePolicy({
  type: 'faulty',
  description: 'Fails the way its config says.',
  schema: z.strictObject({ type: z.literal('faulty'), mode: z.enum(['throw', 'reject', 'hang', 'upstream-throw', 'ok']) }),
  phases: ['access', 'upstreamRequest'],
  example: { mode: 'ok' },
  timeout: 300,
  create(config) {
    return {
      access() {
        if (config.mode === 'throw') throw new Error('secret detail 1234');
        if (config.mode === 'reject') return Promise.reject(new Error('secret detail 5678'));
        if (config.mode === 'hang') return new Promise(() => {});
        return undefined;
      },
      upstreamRequest() { if (config.mode === 'upstream-throw') throw new Error('secret detail 9012'); },
    };
  },
});
`;

// A plugin that owns a top-level section, as rate-limit owns `plans`.
const QUOTA = `
import { definePolicy, section, z } from ${JSON.stringify(api)};
export default definePolicy({
  type: 'quota-tag',
  description: 'Tags requests with the size of a named quota from the top-level quotas section.',
  schema: z.strictObject({ type: z.literal('quota-tag'), name: z.string() }),
  phases: ['upstreamRequest'],
  example: { name: 'gold' },
  sections: { quotas: z.record(z.string(), z.number().int().min(0)).default({}).meta({ description: 'Named quotas.' }) },
  validateSections(view) {
    const quotas = view.sections.quotas;
    return view.entries
      .filter((e) => !Object.hasOwn(quotas, e.config.name))
      .map((e) => ({ path: e.at + '.name', message: 'quota "' + e.config.name + '" is not defined in quotas' }));
  },
  consumerUsage(entries, consumer, env) {
    const quotas = section(env.config, 'quotas');
    return Promise.resolve({
      limits: entries.map((e) => ({ policy: 'quota-tag', route: e.route, limit: quotas[e.config.name], consumer: consumer.id })),
    });
  },
  create(config, env) {
    const size = String(section(env.config, 'quotas')[config.name]);
    return { upstreamRequest(ctx, headers) { headers.push('x-quota', size); } };
  },
});
`;

function config(extra: string, plugins = ['./plugins/tenant.js', './plugins/faulty.js']): string {
  return pluginConfig(up.url, extra, plugins);
}

const ROUTES = `
routes:
  - name: tenant
    match: { paths: [/t/*] }
    service: up
    policies: [{ type: tenant, allow: [acme, globex] }]
  - { name: throw, match: { paths: [/throw] }, service: up, policies: [{ type: faulty, mode: throw }] }
  - { name: reject, match: { paths: [/reject] }, service: up, policies: [{ type: faulty, mode: reject }] }
  - { name: hang, match: { paths: [/hang] }, service: up, policies: [{ type: faulty, mode: hang }] }
  - { name: upthrow, match: { paths: [/upthrow] }, service: up, policies: [{ type: faulty, mode: upstream-throw }] }
  - { name: plain, match: { paths: [/plain] }, service: up }
`;

let gw: Gateway;
let base: string;
let adminUrl: string;

before(async () => {
  dir = await tempDir();
  up = await startUpstream();
  mkdirSync(join(dir.path, 'plugins'));
  writeFileSync(join(dir.path, 'plugins', 'tenant.js'), TENANT);
  writeFileSync(join(dir.path, 'plugins', 'faulty.js'), FAULTY);
  writeFileSync(join(dir.path, 'plugins', 'quota.js'), QUOTA);
  const path = await dir.file('gatehouse.yaml', config(ROUTES));
  gw = await startGateway({ configPath: path, logger: silentLogger, watch: false });
  base = gw.listeners[0]!.url;
  adminUrl = `http://127.0.0.1:${gw.admin!.port}`;
});
after(async () => {
  await maybeUnset(gw)?.stop();
  await killAllChildren();
  await up.close();
  await dir.remove();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(base + path, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: () => JSON.parse(text) as { error: { code: string; message: string } } };
}

test('a plugin type in a route works like a built-in: it refuses, and it edits what goes upstream', async () => {
  assert.equal((await get('/t/x')).status, 403);
  assert.equal((await get('/t/x', { 'x-tenant': 'initech' })).status, 403);
  const ok = await get('/t/x', { 'x-tenant': 'acme' });
  assert.equal(ok.status, 200);
  assert.equal(up.seen.at(-1)!.headers['x-tenant-id'], 'acme');
});

test('a plugin that throws, rejects, never answers, or throws upstream answers 500 GW_POLICY_ERROR; nothing leaks, the gateway goes on', async () => {
  for (const path of ['/throw', '/reject', '/hang', '/upthrow']) {
    const r = await get(path);
    assert.equal(r.status, 500, path);
    assert.equal(r.json().error.code, 'GW_POLICY_ERROR', path);
    assert.doesNotMatch(r.text, /secret detail|at .*\.js/, 'no message or stack of the plugin reaches the client');
  }
  assert.equal((await get('/plain')).status, 200);
  assert.equal((await get('/t/y', { 'x-tenant': 'globex' })).status, 200);
});

test("a plugin's config is validated like a built-in's: path: message, and its validate hook runs", async () => {
  const bad = await dir.file(
    'bad.yaml',
    config(`
routes:
  - name: r
    service: up
    policies: [{ type: tenant, allow: [], hedaer: x }, { type: tenant, allow: [a] }, { type: tenantt }]
`),
  );
  const r = await runCli(['validate', '--config', bad]);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.includes('routes[0].policies[0].hedaer: unknown key "hedaer" (did you mean "header"?)'), r.stderr);
  assert.ok(
    lines.some((l) => l.startsWith('routes[0].policies[0].allow: ')),
    r.stderr,
  );
  assert.ok(
    lines.some(
      (l) => l.startsWith('routes[0].policies[2].type: unknown policy type (known: ') && l.includes('tenant') && l.includes('faulty'),
    ),
    r.stderr,
  );
  // Its own cross-field check (the definition's validate hook), on an otherwise valid config.
  const star = await dir.file(
    'star.yaml',
    config(`
routes:
  - { name: r, service: up, policies: [{ type: tenant, allow: ['*'] }] }
`),
  );
  const s = await runCli(['validate', '--config', star]);
  assert.equal(s.code, 1);
  assert.equal(s.stderr.split('\n')[0], 'routes[0].policies[0].allow: "*" is not a tenant');
});

test('gatehouse schema --config includes the plugin types; without it, the built-in schema', async () => {
  const path = join(dir.path, 'gatehouse.yaml');
  const withPlugins = await runCli(['schema', '--config', path]);
  assert.equal(withPlugins.code, 0, withPlugins.stderr);
  assert.match(withPlugins.stdout, /"const": "tenant"/);
  assert.match(withPlugins.stdout, /Requires a tenant header/);
  const plain = await runCli(['schema']);
  assert.doesNotMatch(plain.stdout, /"const": "tenant"/);
});

test('bad plugin modules are config errors at plugins[i], never a crash', async () => {
  writeFileSync(join(dir.path, 'plugins', 'nodefault.js'), 'export const x = 1;');
  writeFileSync(
    join(dir.path, 'plugins', 'builtin.js'),
    `import { definePolicy, z } from ${JSON.stringify(api)};
export default definePolicy({ type: 'acl', description: 'd', schema: z.strictObject({ type: z.literal('acl') }), phases: ['access'], example: {}, create: () => ({}) });`,
  );
  writeFileSync(
    join(dir.path, 'plugins', 'mismatch.js'),
    `import { definePolicy, z } from ${JSON.stringify(api)};
export default definePolicy({ type: 'one', description: 'd', schema: z.strictObject({ type: z.literal('two') }), phases: ['access'], example: {}, create: () => ({}) });`,
  );
  writeFileSync(join(dir.path, 'plugins', 'broken.js'), 'export default {;');
  const path = await dir.file(
    'mods.yaml',
    config('', [
      './plugins/missing.js',
      './plugins/nodefault.js',
      './plugins/builtin.js',
      './plugins/mismatch.js',
      './plugins/broken.js',
      'no-such-package-gatehouse',
    ]),
  );
  const r = await runCli(['validate', '--config', path]);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0]!, /^plugins\[0\]: cannot find plugin "\.\/plugins\/missing\.js": no such file/);
  assert.match(lines[1]!, /^plugins\[1\]: plugin "\.\/plugins\/nodefault\.js": its default export must be a policy definition/);
  assert.match(lines[2]!, /^plugins\[2\]: plugin "\.\/plugins\/builtin\.js": type "acl" is a built-in policy type/);
  assert.match(
    lines[3]!,
    /^plugins\[3\]: plugin "\.\/plugins\/mismatch\.js": type "one": its schema must be a zod object whose `type` is z\.literal\("one"\)/,
  );
  assert.match(lines[4]!, /^plugins\[4\]: plugin "\.\/plugins\/broken\.js": failed to load: /);
  assert.match(lines[5]!, /^plugins\[5\]: cannot find plugin "no-such-package-gatehouse"/);
});

test('the admin API may use loaded plugins but never loads a module', async () => {
  const current = (await (await request(`${adminUrl}/config`)).body.json()) as { plugins: string[] };
  assert.equal(current.plugins.length, 2);
  assert.ok(
    current.plugins.every((u) => u.startsWith('file://')),
    'resolved URLs',
  );
  writeFileSync(join(dir.path, 'plugins', 'evil.js'), 'globalThis.__gatehouseEvilRan = true; export default {};');
  const evil = pathToFileURL(join(dir.path, 'plugins', 'evil.js')).href;
  for (const spec of [evil, './plugins/evil.js']) {
    const res = await request(`${adminUrl}/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...current, plugins: [...current.plugins, spec] }),
    });
    const body = (await res.body.json()) as { error: { code: string; details?: { path: string; message: string }[] } };
    assert.equal(res.statusCode, 400);
    assert.equal(body.error.code, 'CONFIG_INVALID');
    assert.match(JSON.stringify(body), /plugins\[2\]: |"path":"plugins\[2\]"/);
  }
  assert.equal((globalThis as { __gatehouseEvilRan?: boolean }).__gatehouseEvilRan, undefined, 'the module never ran');
  // The loaded ones may be posted back (a config round-trips through GET/POST).
  const again = await request(`${adminUrl}/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(current),
  });
  await again.body.dump();
  assert.equal(again.statusCode, 200);
});

test('workers: 2 load the plugin in every worker', async () => {
  const port = await freePort();
  const path = await dir.file(
    'workers.yaml',
    config(ROUTES).replace('listen: [{ port: 0, host: 127.0.0.1 }]', `workers: 2\nlisten: [{ port: ${port}, host: 127.0.0.1 }]`),
  );
  const child = await startChild(path, { timeoutMs: 20_000 });
  for (let i = 0; i < 6; i++) {
    const res = await request(`${child.url}/t/${i}`, { headers: { 'x-tenant': 'acme' }, reset: true });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    const bad = await request(`${child.url}/throw`, { reset: true });
    assert.equal(bad.statusCode, 500);
    assert.equal(((await bad.body.json()) as { error: { code: string } }).error.code, 'GW_POLICY_ERROR');
  }
});

test('a plugin may own a top-level section: validated with the config, read when compiled, in the schema', async () => {
  const plugins = ['./plugins/quota.js'];
  const bad = await dir.file(
    'quota-bad.yaml',
    config(
      `
quotas: { gold: 5, silver: -1 }
routes:
  - { name: r, service: up, policies: [{ type: quota-tag, name: bronze }] }
`,
      plugins,
    ),
  );
  const r = await runCli(['validate', '--config', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^quotas\.silver: /m);
  // The cross-check waits for a section that passes its schema (it would report "not defined" wrongly).
  const dangling = await dir.file(
    'quota-dangling.yaml',
    config(
      `
quotas: { gold: 5 }
routes:
  - { name: r, service: up, policies: [{ type: quota-tag, name: bronze }] }
`,
      plugins,
    ),
  );
  const d = await runCli(['validate', '--config', dangling]);
  assert.equal(d.stderr.split('\n')[0], 'routes[0].policies[0].name: quota "bronze" is not defined in quotas');
  const good = await dir.file(
    'quota-good.yaml',
    config(
      `
quotas: { gold: 5 }
consumers: [{ id: ann }]
routes:
  - { name: r, match: { paths: [/q] }, service: up, policies: [{ type: quota-tag, name: gold }] }
`,
      plugins,
    ),
  );
  const g = await startGateway({ configPath: good, logger: silentLogger, watch: false });
  try {
    const res = await request(`${g.listeners[0]!.url}/q`);
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    assert.equal(up.seen.at(-1)!.headers['x-quota'], '5');
    // Its consumerUsage hook answers GET /consumers/:id/usage with its entries, as rate-limit's does.
    const usage = await request(`http://127.0.0.1:${g.admin!.port}/consumers/ann/usage`);
    assert.equal(usage.statusCode, 200);
    assert.deepEqual(await usage.body.json(), {
      consumer: 'ann',
      limits: [{ policy: 'quota-tag', route: 'r', limit: 5, consumer: 'ann' }],
    });
  } finally {
    await g.stop();
  }
  const schema = await runCli(['schema', '--config', good]);
  assert.match(schema.stdout, /"quotas": \{/);
  // Without the plugin, the key is unknown.
  const without = await dir.file('quota-none.yaml', config('quotas: { gold: 5 }', []));
  assert.match((await runCli(['validate', '--config', without])).stderr, /^quotas: unknown key "quotas"/m);
});

test("a plugin cannot take a core key or a built-in's section", async () => {
  writeFileSync(
    join(dir.path, 'plugins', 'takes-plans.js'),
    `import { definePolicy, z } from ${JSON.stringify(api)};
export default definePolicy({ type: 'takes-plans', description: 'd', schema: z.strictObject({ type: z.literal('takes-plans') }), phases: ['access'], example: {}, sections: { plans: z.string() }, create: () => ({}) });`,
  );
  writeFileSync(
    join(dir.path, 'plugins', 'takes-routes.js'),
    `import { definePolicy, z } from ${JSON.stringify(api)};
export default definePolicy({ type: 'takes-routes', description: 'd', schema: z.strictObject({ type: z.literal('takes-routes') }), phases: ['access'], example: {}, sections: { routes: z.string() }, create: () => ({}) });`,
  );
  const path = await dir.file('takes.yaml', config('', ['./plugins/takes-plans.js', './plugins/takes-routes.js']));
  const r = await runCli(['validate', '--config', path]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^plugins\[0\]: plugin "\.\/plugins\/takes-plans\.js": type "takes-plans" contributes top-level "plans", which is a key of the config itself/m,
  );
  assert.match(r.stderr, /^plugins\[1\]: plugin "\.\/plugins\/takes-routes\.js": type "takes-routes" contributes top-level "routes"/m);
});
