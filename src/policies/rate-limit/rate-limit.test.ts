// The policy on its own, with a context built by hand: keying by consumer, credential and plan
// (identity is set directly, as an authentication policy would), limits, costs and headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testEnv } from '../../../test/helpers/policy-context.js';
import type { IncomingMessage } from 'node:http';
import { validateConfig } from '../../validation/validate.js';
import { StoreRegistry } from '../../store/registry.js';
import { rateLimitPolicy } from './rate-limit.js';
import type { Identity, RequestContext, RespondVerdict } from '../types.js';

function setup(policy: Record<string, unknown>, top: Record<string, unknown> = {}) {
  let now = Date.UTC(2026, 0, 1);
  const stores = new StoreRegistry({ clock: () => now });
  const result = validateConfig({
    ...top,
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'rate-limit', ...policy }] }],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  const cfg = result.config.routes[0]!.policies[0]!;
  const p = rateLimitPolicy.create(cfg as never, testEnv({ config: result.config, stores, routeName: 'r' }));
  const call = (opts: { identity?: Identity; ip?: string; method?: string; headers?: Record<string, string> } = {}) => {
    const ctx: RequestContext = {
      req: { headers: opts.headers ?? {} } as unknown as IncomingMessage,
      requestId: 'x',
      method: opts.method ?? 'GET',
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
    const verdict = p.access!(ctx) as RespondVerdict | undefined;
    const res = { status: 200, headers: [] as string[] };
    if (!verdict) p.response!(ctx, res);
    const headers: Record<string, string> = {};
    const list = verdict ? Object.entries(verdict.headers ?? {}).flat() : res.headers;
    for (let i = 0; i < list.length; i += 2) headers[list[i]!] = list[i + 1]!;
    return { verdict, headers };
  };
  return { call, advance: (ms: number) => (now += ms) };
}

const alice: Identity = { consumerId: 'alice', credentialId: 'alice-key-1', groups: [], plan: 'pro' };
const alice2: Identity = { ...alice, credentialId: 'alice-key-2' };
const bob: Identity = { consumerId: 'bob', credentialId: 'bob-key', groups: [], plan: 'free' };

test('by consumer: each consumer has its own count; no consumer falls back to the client IP', () => {
  const { call } = setup({ algorithm: 'fixed-window', limit: 2, window: '1m', by: 'consumer' });
  assert.equal(call({ identity: alice }).verdict, undefined);
  assert.equal(call({ identity: alice2 }).verdict, undefined);
  const third = call({ identity: alice });
  assert.equal(third.verdict?.status, 429);
  assert.equal(third.verdict.code, 'GW_RATE_LIMITED');
  assert.equal(third.headers['retry-after'], '60');
  assert.equal(call({ identity: bob }).verdict, undefined);
  // Anonymous traffic: counted per IP.
  assert.equal(call({ ip: '10.0.0.9' }).verdict, undefined);
  assert.equal(call({ ip: '10.0.0.9' }).verdict, undefined);
  assert.equal(call({ ip: '10.0.0.9' }).verdict?.status, 429);
  assert.equal(call({ ip: '10.0.0.8' }).verdict, undefined);
});

test('by credential counts each key of a consumer apart; fallbackBy: skip leaves anonymous traffic alone', () => {
  const { call } = setup({ algorithm: 'fixed-window', limit: 1, window: '1m', by: 'credential', fallbackBy: 'skip' });
  assert.equal(call({ identity: alice }).verdict, undefined);
  assert.equal(call({ identity: alice2 }).verdict, undefined);
  assert.equal(call({ identity: alice }).verdict?.status, 429);
  for (let i = 0; i < 5; i++) assert.equal(call().verdict, undefined);
});

test('by a list: consumer and header combined', () => {
  const { call } = setup({ algorithm: 'fixed-window', limit: 1, window: '1m', by: ['consumer', 'header:x-tenant'] });
  assert.equal(call({ identity: alice, headers: { 'x-tenant': 'a' } }).verdict, undefined);
  assert.equal(call({ identity: alice, headers: { 'x-tenant': 'b' } }).verdict, undefined);
  assert.equal(call({ identity: alice, headers: { 'x-tenant': 'a' } }).verdict?.status, 429);
});

test("plans: the consumer's plan selects its limits; no consumer (or an unknown plan) gets defaultPlan", () => {
  const { call } = setup(
    { limits: 'plan' },
    {
      plans: {
        free: { limits: [{ algorithm: 'fixed-window', limit: 1, window: '1m' }] },
        pro: {
          limits: [
            { algorithm: 'fixed-window', limit: 3, window: '1m' },
            { name: 'pro-monthly', algorithm: 'fixed-window', limit: 1000, window: 'month' },
          ],
        },
        anon: { limits: [{ algorithm: 'fixed-window', limit: 2, window: '1m' }] },
      },
      defaultPlan: 'anon',
    },
  );
  const first = call({ identity: alice });
  assert.equal(first.headers['ratelimit-policy'], '"pro-3-per-1m";q=3;w=60, "pro-monthly";q=1000');
  assert.equal(first.headers.ratelimit, '"pro-3-per-1m";r=2;t=60');
  call({ identity: alice });
  call({ identity: alice });
  assert.equal(call({ identity: alice }).verdict?.status, 429);
  const b = call({ identity: bob });
  assert.equal(b.headers['ratelimit-policy'], '"free";q=1;w=60');
  assert.equal(call({ identity: bob }).verdict?.status, 429);
  assert.equal(call().headers.ratelimit, '"anon";r=1;t=60');
  assert.equal(call({ identity: { consumerId: 'carol', groups: [], plan: 'gold' } }).headers.ratelimit, '"anon";r=1;t=60');
});

test('several limits: all are counted, the one closest to exhaustion is reported, the first exhausted rejects', () => {
  const { call, advance } = setup({
    algorithm: 'fixed-window',
    limits: [
      { name: 'per-second', limit: 5, window: '1s' },
      { name: 'per-hour', limit: 8, window: '1h' },
    ],
  });
  assert.equal(call().headers.ratelimit, '"per-second";r=4;t=1'); // 4/5 left beats 7/8 left
  for (let i = 0; i < 4; i++) call();
  const sixth = call();
  assert.equal(sixth.verdict?.status, 429);
  assert.equal(sixth.headers.ratelimit, '"per-second";r=0;t=1');
  assert.equal(sixth.headers['retry-after'], '1');
  advance(1000);
  const next = call();
  assert.equal(next.verdict, undefined);
  // 7 of 8 used per hour (the sixth, refused per second, still counted per hour): 1/8 is closer than 4/5.
  assert.equal(next.headers.ratelimit, '"per-hour";r=1;t=3599');
});

test('cost per method; shadow mode counts and reports but never rejects; legacy headers', () => {
  const { call } = setup({
    algorithm: 'fixed-window',
    limit: 10,
    window: '1m',
    cost: { POST: 4, default: 1 },
    mode: 'shadow',
    legacyHeaders: true,
  });
  assert.equal(call({ method: 'POST' }).headers.ratelimit, '"10-per-1m";r=6;t=60');
  assert.equal(call().headers['x-ratelimit-remaining'], '5');
  call({ method: 'POST' });
  const over = call({ method: 'POST' });
  assert.equal(over.verdict, undefined); // 4 > the 1 left: refused in shadow, so not counted either
  assert.equal(over.headers['x-ratelimit-remaining'], '1');
  assert.equal(over.headers['x-ratelimit-limit'], '10');
  assert.equal(over.headers['x-ratelimit-reset'], '60');
  assert.equal(over.headers.ratelimit, '"10-per-1m";r=1;t=60');
});

test('quota exhaustion can answer with its own status', () => {
  const { call } = setup({ algorithm: 'fixed-window', limits: [{ name: 'monthly', limit: 1, window: 'month', status: 403 }] });
  call();
  const r = call();
  assert.equal(r.verdict?.status, 403);
  assert.equal(r.verdict.code, 'GW_RATE_LIMITED');
  assert.equal(r.headers['ratelimit-policy'], '"monthly";q=1');
  assert.equal(r.headers['retry-after'], String(31 * 86400)); // 1 Jan → 1 Feb
});

test('the perf-compare config is accepted as written', () => {
  const { call } = setup({ algorithm: 'sliding-window', limit: 1000000000, window: '1m', by: 'consumer' });
  assert.equal(call({ identity: alice }).headers.ratelimit, '"1000000000-per-1m";r=999999999;t=60');
});

test('invalid limits are refused with their path', () => {
  const r = validateConfig({
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [
      { name: 'a', service: 's', policies: [{ type: 'rate-limit', algorithm: 'token-bucket', limit: 5, window: '1s' }] },
      { name: 'b', service: 's', policies: [{ type: 'rate-limit', limit: 5, window: 'month' }] },
      { name: 'c', service: 's', policies: [{ type: 'rate-limit', limits: 'plan' }] },
      { name: 'd', service: 's', policies: [{ type: 'rate-limit', limit: 5, window: '1s', by: 'cookie' }] },
    ],
    defaultPlan: 'nope',
    store: { type: 'redis' },
  });
  assert.equal(r.ok, false);
  const paths = r.errors.map((e) => e.path);
  for (const p of ['routes[0].policies[0].rate', 'routes[1].policies[0].window', 'routes[3].policies[0].by'])
    assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
  const again = validateConfig({
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'c', service: 's', policies: [{ type: 'rate-limit', limits: 'plan' }] }],
    defaultPlan: 'nope',
    store: { type: 'redis' },
  });
  assert.deepEqual(again.ok ? [] : again.errors.map((e) => e.path).sort(), ['defaultPlan', 'routes[0].policies[0].limits', 'store.url']);
});

test('by ip: IPv6 clients are counted per /64, IPv4-mapped ones as IPv4', async () => {
  const { ipKey } = await import('./keys.js');
  assert.equal(ipKey('203.0.113.9'), '203.0.113.9');
  assert.equal(ipKey('2001:db8::1'), ipKey('2001:DB8:0:0:ffff::2'));
  assert.equal(ipKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.notEqual(ipKey('2001:db8:0:1::1'), ipKey('2001:db8:0:2::1'));
  assert.equal(ipKey('::ffff:10.0.0.1'), '10.0.0.1');
});

test('a cost no limit can ever admit is a config error (it would be refused forever)', () => {
  const r = validateConfig({
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    plans: { free: { limits: [{ limit: 3, window: '1m' }] } },
    routes: [
      { name: 'a', service: 's', policies: [{ type: 'rate-limit', algorithm: 'token-bucket', rate: 1, per: '1s', burst: 2, cost: 5 }] },
      { name: 'b', service: 's', policies: [{ type: 'rate-limit', limit: 2, window: '1m', cost: { POST: 3, default: 1 } }] },
      {
        name: 'c',
        service: 's',
        policies: [
          {
            type: 'rate-limit',
            limits: [
              { limit: 10, window: '1s' },
              { algorithm: 'leaky-bucket', rate: 2, per: '1s' },
            ],
            cost: 4,
          },
        ],
      },
      { name: 'd', service: 's', policies: [{ type: 'rate-limit', limits: 'plan', cost: { POST: 4 } }] },
      { name: 'fits', service: 's', policies: [{ type: 'rate-limit', limit: 2, window: '1m', cost: { POST: 2, default: 1 } }] },
    ],
  });
  assert.equal(r.ok, false);
  const errors = r.errors;
  assert.deepEqual(errors.map((e) => e.path).sort(), [
    'routes[0].policies[0].cost',
    'routes[1].policies[0].cost',
    'routes[2].policies[0].cost',
    'routes[3].policies[0].cost',
  ]);
  assert.match(
    errors.find((e) => e.path === 'routes[0].policies[0].cost')!.message,
    /cost 5, more than this limit can ever admit \(burst 2\)/,
  );
  assert.match(errors.find((e) => e.path === 'routes[2].policies[0].cost')!.message, /^limits\[1\]: .*burst 2/);
  assert.match(errors.find((e) => e.path === 'routes[3].policies[0].cost')!.message, /^plan "free" limits\[0\]: .*limit 3/);
});
