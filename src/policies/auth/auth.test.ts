// The combination on its own, over key-auth, basic-auth (plain passwords: no scrypt) and jwt
// (HS256): anyOf (the first method that verifies wins; a 401 names every scheme), allOf (every
// method must verify, for one consumer), the anonymous fallback of the combination, 403 from a
// verified but unauthorised caller, credentials hidden from the upstream; and config errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { accessVerdict, testContext, testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { ConsumerRegistry } from '../../identity/registry.js';
import { authCombinationPolicy } from './auth.js';
import type { Policy, PolicyEnv, RequestContext, RespondVerdict } from '../types.js';
import type { PolicyMetrics } from '../../observability/metrics.js';

const consumers = [
  {
    id: 'alice',
    groups: ['staff'],
    credentials: [
      { type: 'api-key', id: 'alice-key', key: 'alice-key' },
      { type: 'basic', id: 'alice-pw', username: 'alice', password: 'alice-pw' },
    ],
  },
  {
    id: 'bob',
    credentials: [
      { type: 'api-key', key: 'bob-key' },
      { type: 'basic', username: 'bob', password: 'bob-pw' },
    ],
  },
  { id: 'guest', groups: ['public'] },
];
const KEY = { type: 'key-auth' };
const BASIC = { type: 'basic-auth', realm: 'api' };
const CHALLENGE_KEY = 'ApiKey realm="gatehouse", header="x-api-key"';
const CHALLENGE_BASIC = 'Basic realm="api", charset="UTF-8"';
const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

function check(policy: Record<string, unknown>) {
  return validateConfig({
    consumers,
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'auth', ...policy }] }],
  });
}
function make(policy: Record<string, unknown>, over: Partial<PolicyEnv> = {}): Policy {
  const r = check(policy);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const env = testEnv({ config: r.config, consumers: new ConsumerRegistry(r.config.consumers), routeName: 'r', ...over });
  return authCombinationPolicy.create(r.config.routes[0]!.policies[0]! as never, env);
}
async function run(p: Policy, headers: Record<string, string> = {}): Promise<{ verdict: RespondVerdict | undefined; ctx: RequestContext }> {
  const ctx = testContext({ headers });
  const verdict = await accessVerdict(p.access!(ctx));
  return { verdict, ctx };
}

test('anyOf: either method alone identifies the caller, with the method that verified it', async () => {
  const p = make({ anyOf: [KEY, BASIC] });
  const byKey = await run(p, { 'x-api-key': 'alice-key' });
  assert.equal(byKey.verdict, undefined);
  assert.deepEqual(
    [byKey.ctx.identity?.consumerId, byKey.ctx.identity?.credentialId, byKey.ctx.identity?.method],
    ['alice', 'alice-key', 'key-auth'],
  );
  assert.deepEqual(byKey.ctx.identity?.groups, ['staff']);
  const byPassword = await run(p, { Authorization: basic('bob', 'bob-pw') });
  assert.equal(byPassword.verdict, undefined);
  assert.deepEqual([byPassword.ctx.identity?.consumerId, byPassword.ctx.identity?.method], ['bob', 'basic-auth']);
});

test('anyOf: the first method that verifies wins; a wrong first credential does not stop a good second one', async () => {
  const p = make({ anyOf: [KEY, BASIC] });
  const both = await run(p, { 'x-api-key': 'alice-key', Authorization: basic('bob', 'bob-pw') });
  assert.equal(both.ctx.identity?.consumerId, 'alice');
  const wrongKey = await run(p, { 'x-api-key': 'nope', Authorization: basic('bob', 'bob-pw') });
  assert.equal(wrongKey.verdict, undefined);
  assert.equal(wrongKey.ctx.identity?.consumerId, 'bob');
  const reversed = await run(make({ anyOf: [BASIC, KEY] }), { 'x-api-key': 'alice-key', Authorization: basic('bob', 'bob-pw') });
  assert.equal(reversed.ctx.identity?.consumerId, 'bob');
});

test('anyOf: nothing verified → 401 GW_UNAUTHORIZED naming every scheme; no identity is set', async () => {
  const p = make({ anyOf: [KEY, BASIC] });
  for (const headers of [
    {},
    { 'x-api-key': 'nope' },
    { Authorization: basic('alice', 'wrong') },
    { 'x-api-key': 'nope', Authorization: basic('bob', 'alice-pw') },
  ] as Record<string, string>[]) {
    const { verdict, ctx } = await run(p, headers);
    assert.deepEqual(
      verdict,
      { status: 401, code: 'GW_UNAUTHORIZED', headers: { 'www-authenticate': `${CHALLENGE_KEY}, ${CHALLENGE_BASIC}` } },
      JSON.stringify(headers),
    );
    assert.equal(ctx.identity, undefined);
  }
});

test("allOf: every method must verify, for the same consumer; the first method's identity is the caller", async () => {
  const p = make({ allOf: [KEY, BASIC] });
  const ok = await run(p, { 'x-api-key': 'alice-key', Authorization: basic('alice', 'alice-pw') });
  assert.equal(ok.verdict, undefined);
  assert.deepEqual(
    [ok.ctx.identity?.consumerId, ok.ctx.identity?.credentialId, ok.ctx.identity?.method],
    ['alice', 'alice-key', 'key-auth'],
  );
  const challenge = `${CHALLENGE_KEY}, ${CHALLENGE_BASIC}`;
  for (const headers of [
    { 'x-api-key': 'alice-key' },
    { Authorization: basic('alice', 'alice-pw') },
    { 'x-api-key': 'alice-key', Authorization: basic('alice', 'wrong') },
    // One consumer's key with another's password is not one caller.
    { 'x-api-key': 'alice-key', Authorization: basic('bob', 'bob-pw') },
  ] as Record<string, string>[]) {
    const { verdict, ctx } = await run(p, headers);
    assert.equal(verdict?.status, 401, JSON.stringify(headers));
    assert.equal(verdict.code, 'GW_UNAUTHORIZED');
    assert.equal(verdict.headers?.['www-authenticate'], challenge);
    assert.equal(ctx.identity, undefined);
  }
});

test('anonymous on the combination: a missing or wrong credential passes as the fallback consumer, flagged anonymous', async () => {
  const anyOf = make({ anyOf: [KEY, BASIC], anonymous: 'guest' });
  for (const headers of [{}, { 'x-api-key': 'nope' }] as Record<string, string>[]) {
    const { verdict, ctx } = await run(anyOf, headers);
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
  const real = await run(anyOf, { 'x-api-key': 'bob-key' });
  assert.equal(real.ctx.identity?.consumerId, 'bob');
  assert.equal(real.ctx.identity.anonymous, undefined);
  const allOf = make({ allOf: [KEY, BASIC], anonymous: 'guest' });
  const half = await run(allOf, { 'x-api-key': 'alice-key' });
  assert.equal(half.verdict, undefined);
  assert.equal(half.ctx.identity?.consumerId, 'guest');
  assert.equal(half.ctx.identity.anonymous, true);
});

test('a verified caller without the required scope → 403 GW_FORBIDDEN (the anonymous fallback does not apply)', async () => {
  const secret = 's'.repeat(32);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'alice', scope: 'orders.read', exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  const jwt = { type: 'jwt', algorithms: ['HS256'], keys: [{ secret }] };
  const reader = await run(make({ anyOf: [{ ...jwt, requireScopes: ['orders.read'] }, KEY], anonymous: 'guest' }), {
    Authorization: `Bearer ${token}`,
  });
  assert.equal(reader.verdict, undefined);
  assert.equal(reader.ctx.identity?.consumerId, 'alice');
  assert.equal(reader.ctx.identity.method, 'jwt');
  const writer = await run(make({ anyOf: [{ ...jwt, requireScopes: ['orders.write'] }, KEY], anonymous: 'guest' }), {
    Authorization: `Bearer ${token}`,
  });
  assert.deepEqual(writer.verdict, {
    status: 403,
    code: 'GW_FORBIDDEN',
    headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' },
  });
  assert.equal(writer.ctx.identity, undefined);
});

test('upstreamRequest: the credentials of every method are removed, unless hideCredentials: false', async () => {
  const p = make({ anyOf: [KEY, BASIC] });
  const { ctx } = await run(p, { 'x-api-key': 'alice-key' });
  const headers = ['X-Api-Key', 'alice-key', 'Authorization', basic('x', 'y'), 'Accept', '*/*'];
  p.upstreamRequest!(ctx, headers);
  assert.deepEqual(headers, ['Accept', '*/*']);
  assert.equal(typeof make({ anyOf: [KEY, BASIC], hideCredentials: false }).upstreamRequest, 'undefined');
});

test('refusals are counted under the policy type "auth": missing when no method found a credential, else invalid', async () => {
  const calls: string[] = [];
  const metrics = {
    authFailure: (policy: string, reason: string) => calls.push(`${policy}:${reason}`),
    rateLimit: () => {},
  } as unknown as PolicyMetrics;
  const p = make({ anyOf: [KEY, BASIC] }, { metrics });
  await run(p);
  await run(p, { 'x-api-key': 'nope' });
  await run(p, { 'x-api-key': 'alice-key' });
  assert.deepEqual(calls, ['auth:missing', 'auth:invalid']);
});

test("config errors name the path (nested methods are checked by their own type's rules)", () => {
  const errs = (cfg: Record<string, unknown>) => {
    const r = check(cfg);
    return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
  };
  assert.deepEqual(errs({ anyOf: [KEY, BASIC], anonymous: 'guest' }), []);
  assert.deepEqual(errs({}), ['routes[0].policies[0]: an auth policy has exactly one of anyOf or allOf']);
  assert.deepEqual(errs({ anyOf: [KEY], allOf: [BASIC] }), ['routes[0].policies[0]: an auth policy has exactly one of anyOf or allOf']);
  assert.deepEqual(
    errs({ anyOf: [] }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].anyOf'],
  );
  assert.deepEqual(errs({ anyOf: [KEY, { type: 'basic-auth', anonymous: 'guest' }] }), [
    'routes[0].policies[0].anyOf[1].anonymous: unknown key "anonymous"',
  ]);
  assert.deepEqual(
    errs({ allOf: [{ type: 'acl', allow: ['staff'] }] }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].allOf[0].type'],
  );
  assert.deepEqual(errs({ anyOf: [KEY], anonymous: 'nobody' }), [
    'routes[0].policies[0].anonymous: consumer "nobody" is not defined in consumers',
  ]);
  assert.deepEqual(errs({ anyOf: [KEY, { type: 'jwt', algorithms: ['RS256'] }] }), [
    'routes[0].policies[0].anyOf[1]: a jwt policy needs keys, a jwksUri, or an issuer to discover keys from',
  ]);
  assert.deepEqual(errs({ allOf: [{ type: 'key-auth', headers: ['bad header'] }] }), [
    'routes[0].policies[0].allOf[0].headers[0]: not a valid header name',
  ]);
});

test("anonymous and hideCredentials belong to the combination: a nested method's own is refused, not silently ignored", () => {
  const r = validateConfig({
    consumers,
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [
      {
        name: 'r',
        service: 's',
        policies: [
          {
            type: 'auth',
            anyOf: [
              { type: 'key-auth', hideCredentials: false },
              { type: 'basic-auth', anonymous: 'x' },
            ],
          },
        ],
      },
    ],
  });
  assert.equal(r.ok, false);
  const paths = r.errors.map((e) => e.path);
  assert.ok(
    paths.some((p) => p.startsWith('routes[0].policies[0].anyOf[0]')),
    JSON.stringify(paths),
  );
  assert.ok(
    paths.some((p) => p.startsWith('routes[0].policies[0].anyOf[1]')),
    JSON.stringify(paths),
  );
  const ok = validateConfig({
    consumers,
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'auth', hideCredentials: false, anyOf: [{ type: 'key-auth' }] }] }],
  });
  assert.ok(ok.ok, 'on the combination it is accepted');
});

test('a method is found through the registry: an unknown type, or a type without an authenticator, is a config error at its type', () => {
  const errs = (cfg: Record<string, unknown>) => {
    const r = check(cfg);
    return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
  };
  assert.deepEqual(errs({ anyOf: [KEY, { type: 'key-auht' }] }), ['routes[0].policies[0].anyOf[1].type: unknown policy type "key-auht"']);
  assert.deepEqual(errs({ allOf: [{ type: 'acl', allow: ['staff'] }] }), [
    'routes[0].policies[0].allOf[0].type: policy type "acl" cannot be an auth method: its definition has no authenticator',
  ]);
  assert.deepEqual(errs({ anyOf: [{ type: 'auth', anyOf: [KEY] }] }), [
    'routes[0].policies[0].anyOf[0].type: policy type "auth" cannot be an auth method: its definition has no authenticator',
  ]);
  assert.deepEqual(errs({ anyOf: [{ type: 'key-auth', header: ['x-key'] }] }), [
    'routes[0].policies[0].anyOf[0].header: unknown key "header" (did you mean "headers"?)',
  ]);
});
