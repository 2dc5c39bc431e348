// The policy through its definition, with nothing but the public `gatehouse` API: what its schema
// accepts and refuses, its validate hook, and what the policy it creates answers and forwards.
// (`node --test dist/index.test.js` after `tsc`; the gateway itself is not started here.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { silentLogger, type Identity, type PolicyCheckContext, type PolicyEnv, type RequestContext } from 'gatehouse';
import tenant from './index.js';

type Config = ReturnType<typeof tenant.schema.parse>;

function parse(entry: Record<string, unknown>): Config {
  return tenant.schema.parse({ type: 'tenant', ...entry });
}

/** The issues of an entry its schema refuses, as `path: message`. */
function refused(entry: Record<string, unknown>): string[] {
  const r = tenant.schema.safeParse({ type: 'tenant', ...entry });
  assert.equal(r.success, false, `${JSON.stringify(entry)} should be refused`);
  return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

// The policy reads only `env.log`; the rest of PolicyEnv (consumers, stores, the whole config) is
// the gateway's and is not needed to test it.
const env = { log: silentLogger, routeName: 'orders' } as Partial<PolicyEnv> as PolicyEnv;

/** A request context as the gateway builds one, with the request headers and identity given. */
function context(headers: Record<string, string> = {}, identity?: Identity): RequestContext {
  return {
    // A stand-in: the policy reads only the headers of the request.
    req: { headers } as unknown as IncomingMessage,
    requestId: 'req-1',
    method: 'GET',
    host: 'api.example.com',
    path: '/orders',
    query: '',
    clientIp: '127.0.0.1',
    routeName: 'orders',
    serviceName: 'orders',
    params: {},
    identity,
    locals: new Map(),
  };
}

/** Runs access and, when it lets the request through, upstreamRequest on `upstream`. */
async function run(config: Config, ctx: RequestContext, upstream: string[] = ['host', 'api.example.com']) {
  const policy = tenant.create(config, env);
  const verdict = await policy.access!(ctx);
  // An access phase may also serve a whole response (a cache hit); this one only ever refuses.
  if (verdict !== undefined && 'serve' in verdict) throw new Error('tenant served a response');
  if (verdict === undefined) policy.upstreamRequest!(ctx, upstream);
  return { verdict, upstream };
}

test('the definition: a type of its own, the phases it implements, an example its schema takes', () => {
  assert.equal(tenant.type, 'tenant');
  assert.deepEqual(tenant.phases, ['access', 'upstreamRequest']);
  assert.ok(tenant.schema.safeParse({ type: 'tenant', ...tenant.example }).success);
  const policy = tenant.create(parse(tenant.example), env);
  assert.deepEqual(Object.keys(policy).sort(), ['access', 'upstreamRequest']);
});

test('schema: defaults, and path: message for what it refuses', () => {
  const c = parse({ allow: ['acme'] });
  assert.equal(c.header, 'x-tenant');
  assert.equal(c.forwardAs, 'x-tenant-id');
  assert.deepEqual(c.upstreamHeaders, {});
  assert.equal(c.claim, undefined);

  assert.ok(
    refused({}).some((l) => l.startsWith('allow: ')),
    'allow is required',
  );
  assert.ok(
    refused({ allow: [] }).some((l) => l.startsWith('allow: ')),
    'allow is not empty',
  );
  assert.ok(refused({ allow: ['acme corp'] }).some((l) => l.startsWith('allow.0: a tenant id')));
  assert.ok(refused({ allow: ['acme'], header: 'X Tenant' }).some((l) => l.startsWith('header: a lower-case header name')));
  assert.ok(
    refused({ allow: ['acme'], upstreamHeaders: { acme: { 'bad header': 'x' } } }).some((l) =>
      l.startsWith('upstreamHeaders.acme.bad header: '),
    ),
  );
  assert.ok(refused({ allow: ['acme'], hedaer: 'x-t' }).length > 0, 'unknown keys are refused (strict)');
});

test('validate hook: a tenant with upstream headers must be allowed', () => {
  const check: PolicyCheckContext = { consumerIds: new Set(), nested: () => [] };
  const ok = parse({ allow: ['acme'], upstreamHeaders: { acme: { 'x-shard': 'eu-1' } } });
  assert.deepEqual(tenant.validate!(ok, check, 'routes[0].policies[0]'), []);
  const bad = parse({ allow: ['acme'], upstreamHeaders: { globex: { 'x-shard': 'us-2' } } });
  assert.deepEqual(tenant.validate!(bad, check, 'routes[0].policies[0]'), [
    { path: 'routes[0].policies[0].upstreamHeaders.globex', message: 'tenant "globex" is not in allow' },
  ]);
});

test('access: an allowed tenant passes; a missing or unknown one is answered 403 GW_FORBIDDEN', async () => {
  const config = parse({ allow: ['acme', 'globex'] });
  assert.equal((await run(config, context({ 'x-tenant': 'acme' }))).verdict, undefined);
  assert.deepEqual((await run(config, context())).verdict, { status: 403, code: 'GW_FORBIDDEN', message: 'This request names no tenant.' });
  assert.deepEqual((await run(config, context({ 'x-tenant': 'initech' }))).verdict, {
    status: 403,
    code: 'GW_FORBIDDEN',
    message: 'This tenant is not allowed here.',
  });
  // Another header name, when configured.
  const other = parse({ allow: ['acme'], header: 'x-org' });
  assert.equal((await run(other, context({ 'x-org': 'acme' }))).verdict, undefined);
  assert.equal((await run(other, context({ 'x-tenant': 'acme' }))).verdict?.status, 403);
});

test('access with claim: the tenant comes from the verified identity, never from a header', async () => {
  const config = parse({ allow: ['acme'], claim: 'org' });
  const verified: Identity = { groups: [], method: 'jwt', claims: { sub: 'u1', org: 'acme' } };
  assert.equal((await run(config, context({}, verified))).verdict, undefined);
  // No identity (no authentication policy ran), or a token for another tenant: refused, header or not.
  assert.equal((await run(config, context({ 'x-tenant': 'acme' }))).verdict?.status, 403);
  const other: Identity = { groups: [], claims: { org: 'initech' } };
  assert.equal((await run(config, context({ 'x-tenant': 'acme' }, other))).verdict?.status, 403);
  // A claim that is not a string is no tenant.
  const odd: Identity = { groups: [], claims: { org: ['acme'] } };
  assert.equal((await run(config, context({}, odd))).verdict?.status, 403);
});

test('upstreamRequest: forwards the tenant and its own headers; the client cannot forge them', async () => {
  const config = parse({ allow: ['acme', 'globex'], upstreamHeaders: { acme: { 'x-shard': 'eu-1' } } });
  const client = ['host', 'api.example.com', 'X-Tenant-Id', 'globex', 'x-shard', 'us-9', 'accept', '*/*'];
  const { upstream } = await run(config, context({ 'x-tenant': 'acme' }), [...client]);
  assert.deepEqual(upstream, ['host', 'api.example.com', 'accept', '*/*', 'x-tenant-id', 'acme', 'x-shard', 'eu-1']);
  // A tenant without headers of its own gets only the tenant header.
  const plain = await run(config, context({ 'x-tenant': 'globex' }));
  assert.deepEqual(plain.upstream, ['host', 'api.example.com', 'x-tenant-id', 'globex']);
  // forwardAs renames it.
  const renamed = await run(parse({ allow: ['acme'], forwardAs: 'x-org-id' }), context({ 'x-tenant': 'acme' }));
  assert.deepEqual(renamed.upstream, ['host', 'api.example.com', 'x-org-id', 'acme']);
});
