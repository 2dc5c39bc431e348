// Identity feeding traffic control and balancing, end to end: key-auth finds the consumer, its plan
// picks its rate limits, counts are per consumer (all of its keys together) or per credential, and
// consistent-hash on `consumer` keeps each consumer on one target.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startFlaky } from './helpers/flaky-upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const consumers = [
  {
    id: 'alice',
    plan: 'pro',
    credentials: [
      { type: 'api-key', key: 'alice-key-1' },
      { type: 'api-key', key: 'alice-key-2' },
    ],
  },
  { id: 'bob', credentials: [{ type: 'api-key', key: 'bob-key' }] },
];

async function gateway(up: Upstream, policies: unknown[]): Promise<TestGateway> {
  const gw = await startTestGateway({
    consumers,
    plans: {
      free: { limits: [{ name: 'free', algorithm: 'fixed-window', limit: 2, window: '1h' }] },
      pro: { limits: [{ name: 'pro', algorithm: 'fixed-window', limit: 4, window: '1h' }] },
    },
    defaultPlan: 'free',
    services: { up: { targets: [{ url: up.url }] } },
    routes: [{ name: 'api', service: 'up', policies: [{ type: 'key-auth' }, ...policies] }],
  });
  cleanups.push(() => gw.stop());
  return gw;
}

async function call(gw: TestGateway, key: string) {
  const res = await request(gw.url + '/x', { headers: { 'x-api-key': key } });
  await res.body.dump();
  return { status: res.statusCode, policy: res.headers['ratelimit-policy'], limit: res.headers['ratelimit'] };
}

test("a consumer's plan selects its limits; every key of a consumer shares one count; plans differ per consumer", async () => {
  const up = await startUpstream();
  cleanups.push(() => up.close());
  const gw = await gateway(up, [{ type: 'rate-limit', limits: 'plan', by: 'consumer' }]);
  const alice = [];
  for (const key of ['alice-key-1', 'alice-key-2', 'alice-key-1', 'alice-key-2', 'alice-key-1']) alice.push(await call(gw, key));
  assert.deepEqual(
    alice.map((r) => r.status),
    [200, 200, 200, 200, 429],
  );
  assert.equal(alice[0]!.policy, '"pro";q=4;w=3600');
  assert.match(alice[0]!.limit as string, /^"pro";r=3;t=\d+$/);
  const bob = [];
  for (let i = 0; i < 3; i++) bob.push(await call(gw, 'bob-key'));
  assert.deepEqual(
    bob.map((r) => r.status),
    [200, 200, 429],
    'bob has no plan: defaultPlan free',
  );
  assert.equal(bob[0]!.policy, '"free";q=2;w=3600');
  assert.equal((await call(gw, 'wrong-key')).status, 401, 'authentication comes first');
  assert.equal(up.hits, 6);
  // The upstream learns who called, under its own Host, with the client's address forwarded.
  const seen = up.seen[0]!.headers;
  assert.equal(seen['x-consumer-id'], 'alice');
  assert.equal(seen.host, new URL(up.url).host);
  assert.equal(seen['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen['x-api-key'], undefined);
});

test('by: credential counts each key on its own', async () => {
  const up = await startUpstream();
  cleanups.push(() => up.close());
  const gw = await gateway(up, [{ type: 'rate-limit', algorithm: 'fixed-window', limit: 2, window: '1h', by: 'credential' }]);
  const statuses = [];
  for (const key of ['alice-key-1', 'alice-key-1', 'alice-key-1', 'alice-key-2', 'alice-key-2'])
    statuses.push((await call(gw, key)).status);
  assert.deepEqual(statuses, [200, 200, 429, 200, 200]);
});

test('consistent-hash on consumer: each consumer stays on one target', async () => {
  const targets = await Promise.all(['a', 'b', 'c', 'd'].map((n) => startFlaky(n)));
  cleanups.push(async () => {
    for (const t of targets) await t.close();
  });
  const many = Array.from({ length: 12 }, (_, i) => ({ id: `c${i}`, credentials: [{ type: 'api-key', key: `key-${i}` }] }));
  const gw = await startTestGateway({
    consumers: many,
    services: { up: { balancer: 'consistent-hash', hashOn: 'consumer', targets: targets.map((t) => ({ url: t.url })) } },
    routes: [{ name: 'api', service: 'up', policies: [{ type: 'key-auth' }] }],
  });
  cleanups.push(() => gw.stop());
  const owner = new Map<number, string>();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < many.length; i++) {
      const res = await request(gw.url + '/x', { headers: { 'x-api-key': `key-${i}` } });
      const served = await res.body.text();
      if (round === 0) owner.set(i, served);
      else assert.equal(served, owner.get(i), `consumer c${i} moved`);
    }
  }
  assert.ok(new Set(owner.values()).size > 1, 'consumers spread over the targets');
});
