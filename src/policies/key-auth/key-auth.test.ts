// The policy on its own: the key from a header (tried in order) or from a query parameter, looked
// up among the consumers' api-key credentials (plain or sha256-hashed); a missing or unknown key
// is a 401 naming the ApiKey scheme; the key never reaches the upstream (its headers, and every
// spelling of its query parameter, are removed) unless hideCredentials: false; and config errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { accessVerdict, testContext, testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { ConsumerRegistry } from '../../identity/registry.js';
import { keyAuthPolicy } from './key-auth.js';
import type { Policy, PolicyEnv, RequestContext, RespondVerdict } from '../types.js';
import type { PolicyMetrics } from '../../observability/metrics.js';

const consumers = [
  {
    id: 'alice',
    username: 'Alice',
    groups: ['staff'],
    plan: 'gold',
    credentials: [{ type: 'api-key', id: 'alice-key', key: 'alice-secret' }],
  },
  { id: 'bob', credentials: [{ type: 'api-key', key: 'sha256:' + createHash('sha256').update('bob secret+1').digest('hex') }] },
  { id: 'guest', groups: ['public'] },
];
const CHALLENGE = 'ApiKey realm="gatehouse", header="x-api-key"';
const DENIED = { status: 401, code: 'GW_UNAUTHORIZED', headers: { 'www-authenticate': CHALLENGE } };

function check(policy: Record<string, unknown>) {
  return validateConfig({
    consumers,
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'key-auth', ...policy }] }],
  });
}
function make(policy: Record<string, unknown> = {}, over: Partial<PolicyEnv> = {}): Policy {
  const r = check(policy);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const env = testEnv({ config: r.config, consumers: new ConsumerRegistry(r.config.consumers), routeName: 'r', ...over });
  return keyAuthPolicy.create(r.config.routes[0]!.policies[0]! as never, env);
}
function errors(policy: Record<string, unknown>): string[] {
  const r = check(policy);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}
async function run(
  p: Policy,
  headers: Record<string, string> = {},
  query = '',
): Promise<{ verdict: RespondVerdict | undefined; ctx: RequestContext }> {
  const ctx = testContext({ headers });
  ctx.query = query;
  const verdict = await accessVerdict(p.access!(ctx));
  return { verdict, ctx };
}

test("a known key in x-api-key sets the consumer's identity, with the credential id and method", async () => {
  const { verdict, ctx } = await run(make(), { 'X-Api-Key': 'alice-secret' });
  assert.equal(verdict, undefined);
  assert.deepEqual(ctx.identity, {
    consumerId: 'alice',
    username: 'Alice',
    groups: ['staff'],
    plan: 'gold',
    credentialId: 'alice-key',
    method: 'key-auth',
  });
  // A key configured as its SHA-256 matches the key itself; the default credential id is consumer:type:index.
  const hashed = await run(make(), { 'x-api-key': 'bob secret+1' });
  assert.equal(hashed.verdict, undefined);
  assert.deepEqual([hashed.ctx.identity?.consumerId, hashed.ctx.identity?.credentialId], ['bob', 'bob:api-key:0']);
  // …but the configured digest itself is not a key.
  const digest = await run(make(), { 'x-api-key': 'sha256:' + createHash('sha256').update('bob secret+1').digest('hex') });
  assert.deepEqual(digest.verdict, DENIED);
});

test('missing, empty or unknown key → 401 GW_UNAUTHORIZED with the ApiKey challenge; no identity', async () => {
  const p = make();
  for (const headers of [
    {},
    { 'x-api-key': '' },
    { 'x-api-key': 'nope' },
    { 'x-api-key': 'ALICE-SECRET' },
    { 'x-other': 'alice-secret' },
    { Authorization: 'Bearer alice-secret' },
  ] as Record<string, string>[]) {
    const { verdict, ctx } = await run(p, headers);
    assert.deepEqual(verdict, DENIED, JSON.stringify(headers));
    assert.equal(ctx.identity, undefined);
  }
});

test('a key seen before is known without its digest: only verified keys are kept, one per credential, per registry', () => {
  const r = check({});
  assert.ok(r.ok);
  const registry = new ConsumerRegistry(r.config.consumers);
  const verified = () => (registry as unknown as { verified: Map<string, unknown> }).verified;
  assert.equal(registry.apiKey('nope'), undefined);
  assert.equal(registry.apiKey('ALICE-SECRET'), undefined);
  assert.equal(verified().size, 0, 'an unknown key never enters');
  const first = registry.apiKey('alice-secret');
  assert.equal(first?.consumer.id, 'alice');
  assert.equal(registry.apiKey('alice-secret'), first);
  assert.equal(registry.apiKey('bob secret+1')?.consumer.id, 'bob');
  for (let i = 0; i < 1000; i++) assert.equal(registry.apiKey(`guess-${i}`), undefined);
  assert.deepEqual([...verified().keys()].sort(), ['alice-secret', 'bob secret+1']);
  // Another registry (a reload) starts empty: a removed key is unknown there.
  assert.equal(new ConsumerRegistry([]).apiKey('alice-secret'), undefined);
});

test('headers are tried in order; the challenge names the first; an empty first header falls through to the next', async () => {
  const p = make({ headers: ['X-Key', 'apikey'] });
  assert.equal((await run(p, { apikey: 'alice-secret' })).ctx.identity?.consumerId, 'alice');
  assert.equal((await run(p, { 'x-key': 'alice-secret', apikey: 'bob secret+1' })).ctx.identity?.consumerId, 'alice');
  assert.equal((await run(p, { 'x-key': '', apikey: 'bob secret+1' })).ctx.identity?.consumerId, 'bob');
  // The default header is no longer read.
  const { verdict } = await run(p, { 'x-api-key': 'alice-secret' });
  assert.deepEqual(verdict, {
    status: 401,
    code: 'GW_UNAUTHORIZED',
    headers: { 'www-authenticate': 'ApiKey realm="gatehouse", header="x-key"' },
  });
});

test('query: the key from its parameter, percent- and plus-decoded, also under another spelling of the name', async () => {
  const p = make({ query: 'api_key' });
  assert.equal((await run(p, {}, 'api_key=alice-secret')).ctx.identity?.consumerId, 'alice');
  assert.equal((await run(p, {}, 'page=2&api_key=bob+secret%2B1')).ctx.identity?.consumerId, 'bob');
  assert.equal((await run(p, {}, 'api%5Fkey=alice-secret')).ctx.identity?.consumerId, 'alice');
  // The header still wins over the parameter.
  assert.equal((await run(p, { 'x-api-key': 'alice-secret' }, 'api_key=bob+secret%2B1')).ctx.identity?.consumerId, 'alice');
  for (const q of ['', 'api_key', 'api_key=', 'api_key=nope', 'apikey=alice-secret', 'x_api_key=alice-secret', 'api_key=%E0%A4%A']) {
    const { verdict, ctx } = await run(p, {}, q);
    assert.deepEqual(verdict, DENIED, q);
    assert.equal(ctx.identity, undefined, q);
  }
  // Without `query`, a parameter is never read.
  assert.deepEqual((await run(make(), {}, 'api_key=alice-secret')).verdict, DENIED);
});

test('upstreamRequest hides the key: every configured header and every spelling of the parameter; the rest stays', async () => {
  const p = make({ headers: ['x-api-key', 'apikey'], query: 'api_key' });
  const { ctx } = await run(
    p,
    { 'x-api-key': 'alice-secret' },
    'a=1&api_key=alice-secret&b=2&api%5Fkey=x&API_KEY=kept&api_key&api_keys=kept',
  );
  const headers = ['Host', 'api.example', 'X-API-KEY', 'alice-secret', 'Accept', '*/*', 'apikey', 'other', 'x-api-key', 'second copy'];
  p.upstreamRequest!(ctx, headers);
  assert.deepEqual(headers, ['Host', 'api.example', 'Accept', '*/*']);
  assert.equal(ctx.query, 'a=1&b=2&API_KEY=kept&api_keys=kept');
  // A query that is only the key becomes empty.
  const only = testContext();
  only.query = 'api_key=alice-secret';
  p.upstreamRequest!(only, []);
  assert.equal(only.query, '');
  // A name with a space: "+" and "%20" both spell it.
  const spaced = make({ query: 'api key' });
  const ctx2 = testContext();
  ctx2.query = 'api+key=a&x=1&api%20key=b&apikey=kept';
  spaced.upstreamRequest!(ctx2, []);
  assert.equal(ctx2.query, 'x=1&apikey=kept');
});

test('hideCredentials: false forwards the key; without `query` the query string is left alone', () => {
  assert.equal(typeof make({ query: 'api_key', hideCredentials: false }).upstreamRequest, 'undefined');
  const p = make();
  const ctx = testContext();
  ctx.query = 'api_key=alice-secret';
  const headers = ['x-api-key', 'alice-secret'];
  p.upstreamRequest!(ctx, headers);
  assert.deepEqual(headers, []);
  assert.equal(ctx.query, 'api_key=alice-secret');
});

test('anonymous: a missing or wrong key passes as the fallback consumer, flagged anonymous; a good key is still the caller', async () => {
  const p = make({ anonymous: 'guest' });
  for (const headers of [{}, { 'x-api-key': 'nope' }] as Record<string, string>[]) {
    const { verdict, ctx } = await run(p, headers);
    assert.equal(verdict, undefined);
    assert.deepEqual(ctx.identity, {
      consumerId: 'guest',
      username: undefined,
      groups: ['public'],
      plan: undefined,
      anonymous: true,
      method: 'anonymous',
    });
  }
  assert.equal((await run(p, { 'x-api-key': 'alice-secret' })).ctx.identity?.consumerId, 'alice');
});

test('refusals are counted: missing when no key was sent, invalid for an unknown one', async () => {
  const calls: string[] = [];
  const metrics = {
    authFailure: (policy: string, reason: string) => calls.push(`${policy}:${reason}`),
    rateLimit: () => {},
  } as unknown as PolicyMetrics;
  const p = make({}, { metrics });
  await run(p);
  await run(p, { 'x-api-key': 'nope' });
  await run(p, { 'x-api-key': 'alice-secret' });
  assert.deepEqual(calls, ['key-auth:missing', 'key-auth:invalid']);
});

test('config errors name the path', () => {
  assert.deepEqual(errors({ headers: ['x-key', 'apikey'], query: 'k', hideCredentials: false, anonymous: 'guest' }), []);
  assert.deepEqual(errors({ headers: ['bad header'] }), ['routes[0].policies[0].headers[0]: not a valid header name']);
  assert.deepEqual(
    errors({ headers: [] }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].headers'],
  );
  assert.deepEqual(
    errors({ headers: 'x-api-key' }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].headers'],
  );
  assert.deepEqual(
    errors({ query: '' }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].query'],
  );
  assert.deepEqual(
    errors({ hideCredentials: 'yes' }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].hideCredentials'],
  );
  assert.deepEqual(errors({ anonymous: 'nobody' }), ['routes[0].policies[0].anonymous: consumer "nobody" is not defined in consumers']);
  assert.deepEqual(errors({ header: 'x-key' }), ['routes[0].policies[0].header: unknown key "header" (did you mean "headers"?)']);
});
