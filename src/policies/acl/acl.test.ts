// The policy on its own: allow/deny by consumer group (deny wins, any allowed group suffices),
// 403 GW_FORBIDDEN for a known caller refused, 401 without an identity, the anonymous consumer's
// groups, the refusals counted; and its config errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testContext, testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { ConsumerRegistry } from '../../identity/registry.js';
import { keyAuthPolicy } from '../key-auth/key-auth.js';
import { aclPolicy } from './acl.js';
import type { Identity, Policy, PolicyEnv, RespondVerdict } from '../types.js';
import type { PolicyMetrics } from '../../observability/metrics.js';

const consumers = [
  { id: 'guest', groups: ['public'] },
  { id: 'ann', groups: ['staff'], credentials: [{ type: 'api-key', key: 'ann-key' }] },
];

function check(policies: Record<string, unknown>[]) {
  return validateConfig({
    consumers,
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies }],
  });
}
function compile(policies: Record<string, unknown>[], over: Partial<PolicyEnv> = {}): Policy[] {
  const r = check(policies);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const env = testEnv({ config: r.config, consumers: new ConsumerRegistry(r.config.consumers), routeName: 'r', ...over });
  return r.config.routes[0]!.policies.map((cfg) => (cfg.type === 'acl' ? aclPolicy : keyAuthPolicy).create(cfg as never, env));
}
const acl = (cfg: Record<string, unknown>, over: Partial<PolicyEnv> = {}) => compile([{ type: 'acl', ...cfg }], over)[0]!;
const who = (...groups: string[]): Identity => ({ consumerId: 'c', groups });
function run(p: Policy, identity: Identity | undefined) {
  const ctx = testContext();
  ctx.identity = identity;
  return p.access!(ctx) as RespondVerdict | undefined;
}

test('allow: one of the groups suffices; none of them is 403 GW_FORBIDDEN without a challenge', () => {
  const p = acl({ allow: ['staff', 'partners'] });
  assert.equal(run(p, who('staff')), undefined);
  assert.equal(run(p, who('other', 'partners')), undefined);
  assert.deepEqual(run(p, who('other')), { status: 403, code: 'GW_FORBIDDEN' });
  assert.deepEqual(run(p, who()), { status: 403, code: 'GW_FORBIDDEN' });
  // Group names are compared exactly.
  assert.equal(run(p, who('Staff'))?.status, 403);
});

test('deny wins over allow; deny alone lets every other identity through', () => {
  const both = acl({ allow: ['staff'], deny: ['suspended'] });
  assert.equal(run(both, who('staff')), undefined);
  assert.deepEqual(run(both, who('staff', 'suspended')), { status: 403, code: 'GW_FORBIDDEN' });
  assert.deepEqual(run(both, who('suspended', 'staff')), { status: 403, code: 'GW_FORBIDDEN' });
  const denyOnly = acl({ deny: ['suspended'] });
  assert.equal(run(denyOnly, who()), undefined);
  assert.equal(run(denyOnly, who('anything')), undefined);
  assert.equal(run(denyOnly, who('suspended'))?.code, 'GW_FORBIDDEN');
});

test('no identity (no authentication policy ran before): 401 GW_UNAUTHORIZED with WWW-Authenticate', () => {
  const v = run(acl({ allow: ['staff'] }), undefined);
  assert.equal(v?.status, 401);
  assert.equal(v.code, 'GW_UNAUTHORIZED');
  assert.equal(v.headers?.['www-authenticate'], 'Bearer realm="gatehouse"');
  assert.equal(run(acl({ deny: ['suspended'] }), undefined)?.status, 401, 'deny-only does not let an unknown caller through');
});

test("after key-auth: the verified consumer's groups decide; the anonymous fallback is judged by its own groups", () => {
  const [auth, staffOnly] = compile([
    { type: 'key-auth', anonymous: 'guest' },
    { type: 'acl', allow: ['staff'] },
  ]);
  const ann = testContext({ headers: { 'x-api-key': 'ann-key' } });
  assert.equal(auth!.access!(ann), undefined);
  assert.equal(staffOnly!.access!(ann), undefined);
  const nobody = testContext();
  assert.equal(auth!.access!(nobody), undefined);
  assert.equal(nobody.identity?.anonymous, true);
  assert.deepEqual(staffOnly!.access!(nobody), { status: 403, code: 'GW_FORBIDDEN' });
  const publicOk = compile([{ type: 'acl', allow: ['public'] }])[0]!;
  assert.equal(publicOk.access!(nobody), undefined);
});

test('refusals are counted as acl failures: forbidden for a refused identity, missing without one', () => {
  const calls: string[] = [];
  const metrics = {
    authFailure: (policy: string, reason: string) => calls.push(`${policy}:${reason}`),
    rateLimit: () => {},
  } as unknown as PolicyMetrics;
  const p = acl({ allow: ['staff'], deny: ['suspended'] }, { metrics });
  run(p, who('staff'));
  run(p, who('staff', 'suspended'));
  run(p, who('other'));
  run(p, undefined);
  assert.deepEqual(calls, ['acl:forbidden', 'acl:forbidden', 'acl:missing']);
});

test('config errors name the path', () => {
  const errs = (cfg: Record<string, unknown>) => {
    const r = check([{ type: 'acl', ...cfg }]);
    return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
  };
  assert.deepEqual(errs({ allow: ['staff'], deny: ['suspended'] }), []);
  assert.deepEqual(errs({}), ['routes[0].policies[0]: an acl needs allow or deny groups']);
  assert.deepEqual(errs({ allow: [], deny: [] }), ['routes[0].policies[0]: an acl needs allow or deny groups']);
  assert.deepEqual(
    errs({ allow: ['staff', ''] }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].allow[1]'],
  );
  assert.deepEqual(
    errs({ deny: 'suspended' }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].deny'],
  );
  assert.deepEqual(errs({ allow: ['staff'], groups: ['x'] }), ['routes[0].policies[0].groups: unknown key "groups"']);
});
