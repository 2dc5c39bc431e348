// The policy on its own: a slot taken in access and given back in log, the limit per key (the
// same keys as rate-limit), 429 GW_CONCURRENCY_LIMITED with Retry-After: 1, and its config errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { StoreRegistry } from '../../store/registry.js';
import { concurrencyLimitPolicy } from './concurrency-limit.js';
import type { Identity, Policy, RequestContext } from '../types.js';

function check(policy: Record<string, unknown>) {
  return validateConfig({
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'concurrency-limit', ...policy }] }],
  });
}
function make(policy: Record<string, unknown>, stores = new StoreRegistry(), routeName: string | undefined = 'r'): Policy {
  const r = check(policy);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return concurrencyLimitPolicy.create(r.config.routes[0]!.policies[0]! as never, testEnv({ config: r.config, stores, routeName }));
}
function ctx(opts: { identity?: Identity; ip?: string; headers?: Record<string, string> } = {}): RequestContext {
  return {
    req: { headers: opts.headers ?? {}, rawHeaders: Object.entries(opts.headers ?? {}).flat() } as unknown as IncomingMessage,
    requestId: 'x',
    method: 'GET',
    host: 'h',
    path: '/',
    query: '',
    clientIp: opts.ip ?? '10.0.0.1',
    routeName: 'r',
    serviceName: 's',
    params: {},
    identity: opts.identity,
    locals: new Map(),
  };
}
const alice: Identity = { consumerId: 'alice', groups: [] };
const bob: Identity = { consumerId: 'bob', groups: [] };

test('limit 2 (global by default): two in flight, the third refused with 429 GW_CONCURRENCY_LIMITED and Retry-After: 1', () => {
  const p = make({ limit: 2 });
  const a = ctx(),
    b = ctx({ ip: '10.0.0.2' }),
    c = ctx({ ip: '10.0.0.3' });
  assert.equal(p.access!(a), undefined);
  assert.equal(p.access!(b), undefined);
  assert.deepEqual(p.access!(c), { status: 429, code: 'GW_CONCURRENCY_LIMITED', headers: { 'retry-after': '1' } });
});

test('the log phase gives the slot back; a refused request holds none, and a second log is a no-op', () => {
  const stores = new StoreRegistry();
  const p = make({ limit: 1 }, stores);
  const first = ctx();
  assert.equal(p.access!(first), undefined);
  assert.equal([...stores.inflight.values()][0], 1);
  const refused = ctx();
  assert.equal((p.access!(refused) as { status: number }).status, 429);
  p.log!(refused, 429); // took no slot: must not free the first one's
  assert.equal((p.access!(ctx()) as { status: number } | undefined)?.status, 429);
  p.log!(first, 200);
  assert.equal(stores.inflight.size, 0, 'an idle key leaves no entry');
  const next = ctx();
  assert.equal(p.access!(next), undefined);
  p.log!(first, 200); // the first request logged twice: it must not give back the slot next holds
  assert.equal((p.access!(ctx()) as { status: number } | undefined)?.status, 429);
});

test('by consumer: each consumer has its own slots; anonymous traffic falls back to the client IP', () => {
  const p = make({ limit: 1, by: 'consumer' });
  assert.equal(p.access!(ctx({ identity: alice })), undefined);
  assert.equal((p.access!(ctx({ identity: alice })) as { code?: string } | undefined)?.code, 'GW_CONCURRENCY_LIMITED');
  assert.equal(p.access!(ctx({ identity: bob })), undefined);
  assert.equal(p.access!(ctx({ ip: '10.0.0.7' })), undefined);
  assert.equal((p.access!(ctx({ ip: '10.0.0.7' })) as { status: number } | undefined)?.status, 429);
  assert.equal(p.access!(ctx({ ip: '10.0.0.8' })), undefined);
});

test('fallbackBy: skip leaves requests without the key uncounted; by header counts each value apart', () => {
  const skip = make({ limit: 1, by: 'consumer', fallbackBy: 'skip' });
  for (let i = 0; i < 5; i++) assert.equal(skip.access!(ctx()), undefined);
  assert.equal(skip.access!(ctx({ identity: alice })), undefined);
  assert.equal((skip.access!(ctx({ identity: alice })) as { status: number } | undefined)?.status, 429);

  const tenant = make({ limit: 1, by: 'header:x-tenant', fallbackBy: 'global' });
  assert.equal(tenant.access!(ctx({ headers: { 'x-tenant': 'a' } })), undefined);
  assert.equal(tenant.access!(ctx({ headers: { 'x-tenant': 'b' } })), undefined);
  assert.equal((tenant.access!(ctx({ headers: { 'x-tenant': 'a' } })) as { status: number } | undefined)?.status, 429);
  // No header: one global counter, shared by every IP.
  assert.equal(tenant.access!(ctx({ ip: '10.0.0.1' })), undefined);
  assert.equal((tenant.access!(ctx({ ip: '10.0.0.2' })) as { status: number } | undefined)?.status, 429);
});

test('counts live in the shared stores: a recompiled policy (reload) sees the slots in flight; another route has its own', () => {
  const stores = new StoreRegistry();
  const before = make({ limit: 1 }, stores);
  const held = ctx();
  assert.equal(before.access!(held), undefined);
  const after = make({ limit: 1 }, stores);
  assert.equal((after.access!(ctx()) as { status: number } | undefined)?.status, 429);
  assert.equal(make({ limit: 1 }, stores, 'other').access!(ctx()), undefined);
  before.log!(held, 200);
  assert.equal(after.access!(ctx()), undefined);
});

test('config errors name the path', () => {
  const errs = (policy: Record<string, unknown>) => {
    const r = check(policy);
    return r.ok ? [] : r.errors.map((e) => e.path);
  };
  assert.deepEqual(errs({ limit: 3, by: ['consumer', 'header:x-tenant'], fallbackBy: 'global' }), []);
  assert.deepEqual(errs({}), ['routes[0].policies[0].limit']);
  assert.deepEqual(errs({ limit: 0 }), ['routes[0].policies[0].limit']);
  assert.deepEqual(errs({ limit: 1.5 }), ['routes[0].policies[0].limit']);
  assert.deepEqual(errs({ limit: 2, by: 'cookie' }), ['routes[0].policies[0].by']);
  assert.deepEqual(errs({ limit: 2, fallbackBy: 'none' }), ['routes[0].policies[0].fallbackBy']);
  assert.deepEqual(errs({ limit: 2, window: '1s' }), ['routes[0].policies[0].window']);
  const r = check({ limit: -1 });
  assert.match(r.ok ? '' : `${r.errors[0]!.path}: ${r.errors[0]!.message}`, /^routes\[0\]\.policies\[0\]\.limit: .+/);
});
