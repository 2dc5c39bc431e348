// A route's policies run by ordering class (PolicyDefinition.order: edge, authenticate, authorise,
// limit, transform, other), global ones first within a class, listing order kept within a class
// (issue 16, part 1): what each phase runs, what `explain` and the route table show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../validation/validate.js';
import { compilePlan, noConnect, type CompiledRoute } from './plan.js';
import { explain, routeTable } from './describe.js';
import { accessVerdict, testContext } from '../../test/helpers/policy-context.js';

const consumers = [
  { id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] },
  { id: 'bob', credentials: [{ type: 'api-key', key: 'bob-key-0123456789' }] },
];

function plan(doc: Record<string, unknown>) {
  const r = validateConfig({ consumers, services: { s: { targets: [{ url: 'http://127.0.0.1:9' }] } }, ...doc });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return compilePlan(r.config, noConnect);
}

/** Runs a route's access phase as the request lifecycle does: in order, until one answers. */
async function access(route: CompiledRoute, headers: Record<string, string>, clientIp = '192.0.2.1'): Promise<number> {
  const ctx = testContext({ headers, clientIp });
  for (const p of route.access) {
    const v = await accessVerdict(p.access!(ctx));
    if (v !== undefined) return v.status;
  }
  return 200;
}

test('a route listing rate-limit (by consumer) before key-auth limits by the verified consumer, not the IP', async () => {
  const p = plan({
    routes: [{ name: 'r', service: 's', policies: [{ type: 'rate-limit', limit: 1, window: '1m', by: 'consumer' }, { type: 'key-auth' }] }],
  });
  const route = p.routes[0]!;
  assert.deepEqual(
    route.policies.map((x) => x.type),
    ['key-auth', 'rate-limit'],
  );
  assert.deepEqual(route.accessTypes, ['key-auth', 'rate-limit'], 'the access log names the policy that answered from the same order');
  // Same client IP throughout: by IP, bob's first request would already be refused.
  assert.equal(await access(route, { 'x-api-key': 'alice-key-0123456789' }), 200);
  assert.equal(await access(route, { 'x-api-key': 'bob-key-0123456789' }), 200);
  assert.equal(await access(route, { 'x-api-key': 'alice-key-0123456789' }), 429);
  assert.equal(await access(route, {}), 401, 'no key: refused by key-auth, which runs first');
  for (const x of route.policies) x.policy.close?.();
});

test('global and route policies interleave by class; globals first within a class; listing order kept within a class', () => {
  const p = plan({
    policies: [
      { type: 'headers', response: { set: { 'x-global': '1' } } },
      { type: 'rate-limit', limit: 100, window: '1m', by: 'ip' },
      { type: 'bot-detection' },
      { type: 'key-auth' },
    ],
    routes: [
      {
        name: 'r',
        service: 's',
        policies: [
          { type: 'request-termination', status: 503 },
          { type: 'concurrency-limit', limit: 5 },
          { type: 'acl', allow: ['staff'] },
          { type: 'headers', request: { set: { 'x-route': '1' } } },
          { type: 'ip-restriction', deny: ['203.0.113.0/24'] },
          { type: 'cors', origins: ['https://app.example.com'] },
        ],
      },
    ],
  });
  const chain = p.routes[0]!.policies.map((x) => `${x.type}${x.scope === 'global' ? ' (global)' : ''}: ${x.order}`);
  assert.deepEqual(chain, [
    'rate-limit (global): edge', // keyed by IP: it runs before authentication (limitOrder)
    'bot-detection (global): edge',
    'ip-restriction: edge',
    'cors: edge',
    'key-auth (global): authenticate',
    'acl: authorise',
    'concurrency-limit: limit',
    'headers (global): transform',
    'headers: transform',
    'request-termination: other',
  ]);
  // Every phase follows the chain.
  const route = p.routes[0]!;
  assert.deepEqual(route.accessTypes, [
    'rate-limit',
    'bot-detection',
    'ip-restriction',
    'cors',
    'key-auth',
    'acl',
    'concurrency-limit',
    'request-termination',
  ]);
  assert.deepEqual(
    route.response,
    route.policies.filter((x) => typeof x.policy.response === 'function').map((x) => x.policy),
  );
  // The route table (CLI `routes`, admin GET /routes) and `explain` show the order they run in.
  assert.deepEqual(routeTable(p)[0]!.policies, [
    'rate-limit (global)',
    'bot-detection (global)',
    'ip-restriction',
    'cors',
    'key-auth (global)',
    'acl',
    'concurrency-limit',
    'headers (global)',
    'headers',
    'request-termination',
  ]);
  const x = explain(p, 'GET', '/anything', {});
  assert.deepEqual(
    x.policies!.map((e) => `${e.type}: ${e.order}`),
    chain.map((c) => c.replace(' (global)', '')),
  );
  assert.deepEqual(x.policies!.map((e) => e.scope).slice(0, 5), ['global', 'global', 'route', 'route', 'global']);
  for (const c of route.policies) c.policy.close?.();
});

test('a route already listed in class order compiles in that same order', () => {
  const listed = [
    { type: 'cors', origins: ['*'] },
    { type: 'key-auth' },
    { type: 'acl', allow: ['x'] },
    { type: 'rate-limit', limit: 1, window: '1s' },
    { type: 'headers', request: { remove: ['x-debug'] } },
  ];
  const p = plan({ routes: [{ name: 'r', service: 's', policies: listed }] });
  assert.deepEqual(
    p.routes[0]!.policies.map((x) => x.type),
    listed.map((l) => l.type),
  );
  for (const c of p.routes[0]!.policies) c.policy.close?.();
});

test('a rate limit keyed by what the request shows runs before authentication (password guessing is shed first); by consumer or plan, after', async () => {
  const byIp = { type: 'rate-limit', limit: 2, window: '1m', by: 'ip' };
  const p = plan({
    plans: { free: { limits: [{ limit: 5, window: '1m' }] } },
    routes: [
      { name: 'ip', match: { paths: ['/ip'] }, service: 's', policies: [{ type: 'basic-auth' }, byIp] },
      {
        name: 'composite',
        match: { paths: ['/c'] },
        service: 's',
        policies: [{ type: 'basic-auth' }, { ...byIp, by: ['ip', 'header:x-tenant'] }],
      },
      {
        name: 'consumer',
        match: { paths: ['/consumer'] },
        service: 's',
        policies: [{ type: 'basic-auth' }, { ...byIp, by: ['ip', 'consumer'] }],
      },
      {
        name: 'plan',
        match: { paths: ['/plan'] },
        service: 's',
        policies: [{ type: 'basic-auth' }, { type: 'rate-limit', limits: 'plan', by: 'ip' }],
      },
    ],
  });
  const order = (i: number) => p.routes[i]!.policies.map((x) => `${x.type}: ${x.order}`);
  assert.deepEqual(order(0), ['rate-limit: edge', 'basic-auth: authenticate']);
  assert.deepEqual(order(1), ['rate-limit: edge', 'basic-auth: authenticate']);
  assert.deepEqual(order(2), ['basic-auth: authenticate', 'rate-limit: limit']);
  assert.deepEqual(order(3), ['basic-auth: authenticate', 'rate-limit: limit'], 'a plan comes from the verified consumer');
  // Guessing: every wrong password is counted, and past the limit refused before any hash is checked.
  const guess = { authorization: 'Basic ' + Buffer.from('alice:wrong').toString('base64') };
  assert.deepEqual(
    [await access(p.routes[0]!, guess), await access(p.routes[0]!, guess), await access(p.routes[0]!, guess)],
    [401, 401, 429],
  );
  for (const r of p.routes) for (const c of r.policies) c.policy.close?.();
});
