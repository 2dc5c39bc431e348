// A user's authentication policy, loaded by config, works inside `auth` exactly like a built-in
// (issue 16, part 1): the combination finds its `authenticator` through the registry, its nested
// options are checked by its own schema and hook with `path: message` errors, and a 401 names its
// challenge with the others'. And a route's policies run by ordering class, plugins included: one
// that declares `limit` listed before key-auth sees the verified consumer; one written without a
// class runs as `other`, last.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { tempDir, type TempDir } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';
import { startGateway, loadConfigFile, type Gateway } from '../src/index.js';
import { silentLogger } from '../src/observability/logger.js';
import { compilePlan, noConnect } from '../src/dataplane/plan.js';

const api = pathToFileURL(fileURLToPath(new URL('../src/index.js', import.meta.url))).href;

// A token in a header of the plugin's choosing names a consumer: "<consumer id>.<secret>".
const TOKEN_AUTH = `
import { definePolicy, z } from ${JSON.stringify(api)};
const schema = z.strictObject({
  type: z.literal('tenant-token'),
  header: z.string().default('x-tenant-token'),
  secret: z.string().min(8),
});
function authenticator(config, env) {
  return {
    method: 'tenant-token',
    challenge: 'TenantToken realm="gatehouse"',
    authenticate(ctx) {
      const raw = ctx.req.headers[config.header];
      if (typeof raw !== 'string') return { ok: false, absent: true, reason: 'no tenant token' };
      const [id, secret] = raw.split('.');
      const c = secret === config.secret ? env.consumers.byId.get(id) : undefined;
      if (!c) return { ok: false, reason: 'wrong tenant token' };
      return { ok: true, identity: { consumerId: c.id, username: c.username, groups: c.groups, method: 'tenant-token' } };
    },
    hide(ctx, headers) {
      for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i].toLowerCase() === config.header) headers.splice(i, 2);
    },
  };
}
export default definePolicy({
  type: 'tenant-token',
  description: 'Authenticate by a tenant token header.',
  schema,
  phases: ['access'],
  order: 'authenticate',
  example: { secret: 'example-secret' },
  validate: (config, ctx, at) => (config.secret.includes(' ') ? [{ path: at + '.secret', message: 'no spaces in a secret' }] : []),
  authenticator,
  create(config, env) {
    const a = authenticator(config, env);
    return { access(ctx) { const r = a.authenticate(ctx); if (r.ok) { ctx.identity = r.identity; return undefined; } return { status: 401, code: 'GW_UNAUTHORIZED' }; } };
  },
});
`;

// Limits per consumer, declared in the limit class: listed first, it still runs after key-auth.
const PER_CONSUMER = `
import { definePolicy, z } from ${JSON.stringify(api)};
export default definePolicy({
  type: 'one-per-consumer',
  description: 'Admits one request per consumer; refuses callers without an identity.',
  schema: z.strictObject({ type: z.literal('one-per-consumer') }),
  phases: ['access'],
  order: 'limit',
  example: {},
  create() {
    const seen = new Set();
    return {
      access(ctx) {
        const id = ctx.identity?.consumerId;
        if (id === undefined) return { status: 500, body: 'ran before authentication' };
        if (seen.has(id)) return { status: 429, code: 'GW_RATE_LIMITED' };
        seen.add(id);
        return undefined;
      },
    };
  },
});
`;

// A plugin in plain JavaScript that declares no class: it runs as \`other\`, after everything else.
const NO_CLASS = `
import { definePolicy, z } from ${JSON.stringify(api)};
export default definePolicy({
  type: 'who',
  description: 'Tells the upstream who the gateway verified.',
  schema: z.strictObject({ type: z.literal('who') }),
  phases: ['upstreamRequest'],
  example: {},
  create: () => ({ upstreamRequest(ctx, headers) { headers.push('x-who', ctx.identity?.consumerId ?? 'nobody'); } }),
});
`;

let dir: TempDir;
let up: Upstream;
let gw: Gateway;
let base: string;

const PLUGINS = ['./plugins/token.js', './plugins/per-consumer.js', './plugins/who.js'];
function config(routes: string): string {
  return `
accessLog: false
log: { level: silent }
listen: [{ port: 0, host: 127.0.0.1 }]
plugins: ${JSON.stringify(PLUGINS)}
consumers:
  - { id: alice, credentials: [{ type: api-key, key: alice-key-0123456789 }] }
  - { id: bob, credentials: [{ type: api-key, key: bob-key-0123456789 }] }
services:
  up: { targets: [{ url: "${up.url}" }] }
${routes}`;
}

before(async () => {
  dir = await tempDir();
  up = await startUpstream();
  mkdirSync(join(dir.path, 'plugins'));
  writeFileSync(join(dir.path, 'plugins', 'token.js'), TOKEN_AUTH);
  writeFileSync(join(dir.path, 'plugins', 'per-consumer.js'), PER_CONSUMER);
  writeFileSync(join(dir.path, 'plugins', 'who.js'), NO_CLASS);
  const path = await dir.file(
    'gatehouse.yaml',
    config(`
routes:
  - name: either
    match: { paths: [/either/*] }
    service: up
    policies: [{ type: auth, anyOf: [{ type: key-auth }, { type: tenant-token, header: x-token, secret: s3cret-s3cret }] }]
  - name: ordered
    match: { paths: [/ordered/*] }
    service: up
    policies: [{ type: who }, { type: one-per-consumer }, { type: key-auth }]
`),
  );
  gw = await startGateway({ configPath: path, logger: silentLogger, watch: false });
  base = gw.listeners[0]!.url;
});
after(async () => {
  await maybeUnset(gw)?.stop();
  await up.close();
  await dir.remove();
});

async function call(path: string, headers: Record<string, string> = {}) {
  const before = up.seen.length;
  const res = await request(base + path, { headers });
  await res.body.text();
  return { status: res.statusCode, headers: res.headers, seen: up.seen.length > before ? up.seen.at(-1) : undefined };
}

test('a plugin authenticator inside auth: verifies, hides its credential, and joins the 401 challenge', async () => {
  const byToken = await call('/either/a', { 'x-token': 'bob.s3cret-s3cret' });
  assert.equal(byToken.status, 200);
  assert.equal(byToken.seen?.headers['x-consumer-id'], 'bob');
  assert.equal(byToken.seen.headers['x-token'], undefined, "the combination hides the plugin method's credential");
  const byKey = await call('/either/a', { 'x-api-key': 'alice-key-0123456789' });
  assert.equal(byKey.seen?.headers['x-consumer-id'], 'alice');
  const wrong = await call('/either/a', { 'x-token': 'bob.wrong' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.seen, undefined);
  assert.match(String(wrong.headers['www-authenticate']), /^ApiKey .*, TenantToken realm="gatehouse"$/);
});

test('a plugin method is validated by its own schema and hook, at paths inside the combination', async () => {
  const path = await dir.file(
    'bad.yaml',
    config(`
routes:
  - name: r
    service: up
    policies:
      - type: auth
        allOf:
          - { type: tenant-token, secret: short }
          - { type: tenant-token, secret: has spaces in it, heder: x }
          - { type: tenant-token, secret: long-enough, anonymous: alice }
          - { type: one-per-consumer }
`),
  );
  const r = await loadConfigFile(path);
  assert.equal(r.ok, false);
  const errors = r.errors.map((e) => `${e.path}: ${e.message}`);
  assert.deepEqual(errors, [
    'routes[0].policies[0].allOf[0].secret: Too small: expected string to have >=8 characters',
    'routes[0].policies[0].allOf[1].heder: unknown key "heder" (did you mean "header"?)',
    'routes[0].policies[0].allOf[2].anonymous: unknown key "anonymous"',
    'routes[0].policies[0].allOf[3].type: policy type "one-per-consumer" cannot be an auth method: its definition has no authenticator',
  ]);
  const hook = await dir.file(
    'hook.yaml',
    config(`
routes:
  - { name: r, service: up, policies: [{ type: auth, anyOf: [{ type: key-auth }, { type: tenant-token, secret: has spaces in it }] }] }
`),
  );
  const h = await loadConfigFile(hook);
  assert.deepEqual(h.ok ? [] : h.errors.map((e) => `${e.path}: ${e.message}`), [
    'routes[0].policies[0].anyOf[1].secret: no spaces in a secret',
  ]);
});

test('policies run by class, plugins included: a limit listed before key-auth sees the consumer; a plugin without a class runs as other, last', async () => {
  const a1 = await call('/ordered/a', { 'x-api-key': 'alice-key-0123456789' });
  assert.equal(a1.status, 200);
  assert.equal(a1.seen?.headers['x-who'], 'alice');
  assert.equal((await call('/ordered/a', { 'x-api-key': 'bob-key-0123456789' })).status, 200, 'bob is counted apart from alice');
  assert.equal((await call('/ordered/a', { 'x-api-key': 'alice-key-0123456789' })).status, 429);
  assert.equal((await call('/ordered/a')).status, 401, 'no key: key-auth answers before the limit runs');
  const loaded = await loadConfigFile(join(dir.path, 'gatehouse.yaml'));
  assert.ok(loaded.ok);
  const chain = compilePlan(loaded.config, noConnect).routes.find((r) => r.name === 'ordered')!.policies;
  assert.deepEqual(
    chain.map((p) => `${p.type}:${p.order}`),
    ['key-auth:authenticate', 'one-per-consumer:limit', 'who:other'],
  );
});
