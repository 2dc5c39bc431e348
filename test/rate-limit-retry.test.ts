// A refusal's `Retry-After` and the `t` of its RateLimit field agree, and both are the earliest
// second the same request is admitted: with the clock moved on by exactly that many seconds it
// passes, one second less and it is refused again. Every algorithm, in the memory store and in the
// Redis store (the Lua scripts, given the test's clock instead of Redis's TIME).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { validateConfig } from '../src/validation/validate.js';
import { StoreRegistry } from '../src/store/registry.js';
import { rateLimitPolicy } from '../src/policies/rate-limit/rate-limit.js';
import type { RequestContext } from '../src/policies/types.js';
import { accessVerdict, testEnv } from './helpers/policy-context.js';
import { SHARED_REDIS, deleteUnder, inspector, sharedRedisUp, uniquePrefix } from './helpers/redis.js';

const up = await sharedRedisUp();
const registries: StoreRegistry[] = [];
const prefixes: string[] = [];
after(async () => {
  await Promise.all(registries.map((r) => r.close()));
  if (up && prefixes.length) {
    const r = inspector();
    for (const p of prefixes) await deleteUnder(r, p);
    r.disconnect();
  }
});

// 13.25 s into a minute: windows are not aligned with whole seconds from here.
const START = Date.UTC(2026, 4, 20, 10, 0, 13, 250);

function limited(store: 'memory' | 'redis', policy: Record<string, unknown>) {
  let now = START;
  const prefix = uniquePrefix('retry');
  prefixes.push(prefix);
  const stores = new StoreRegistry({ clock: () => now, live: true });
  registries.push(stores);
  const result = validateConfig({
    store: store === 'redis' ? { type: 'redis', url: SHARED_REDIS, prefix, timeout: '2s' } : { type: 'memory' },
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'rate-limit', by: 'ip', cost: { POST: 2, default: 1 }, ...policy }] }],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  const p = rateLimitPolicy.create(
    result.config.routes[0]!.policies[0]! as never,
    testEnv({ config: result.config, stores, routeName: 'r' }),
  );
  const send = async (method: string) => {
    const ctx: RequestContext = {
      req: { headers: {} } as unknown as IncomingMessage,
      requestId: 'x',
      method,
      host: 'h',
      path: '/',
      query: '',
      clientIp: '10.0.0.1',
      routeName: 'r',
      serviceName: 's',
      params: {},
      identity: undefined,
      locals: new Map(),
    };
    const verdict = await accessVerdict(p.access!(ctx));
    assert.notEqual(verdict?.status, 503, 'the store answered');
    return verdict;
  };
  return { send, advance: (ms: number) => (now += ms) };
}

interface Case {
  name: string;
  policy: Record<string, unknown>;
  before: string[];
  gap?: number;
  refused: string;
}

const CASES: Case[] = [
  { name: 'fixed window', policy: { algorithm: 'fixed-window', limit: 2, window: '1m' }, before: ['POST'], refused: 'GET' },
  { name: 'calendar month', policy: { algorithm: 'fixed-window', limit: 2, window: 'month' }, before: ['POST'], refused: 'GET' },
  // The report of issue 15: a POST (2) then a GET (1) against 2 per minute.
  {
    name: 'sliding window, over the limit in this window alone',
    policy: { algorithm: 'sliding-window', limit: 2, window: '1m' },
    before: ['POST'],
    refused: 'GET',
  },
  // The previous window's count still weighs: the wait ends inside the current window.
  {
    name: 'sliding window, over with the previous window',
    policy: { algorithm: 'sliding-window', limit: 3, window: '1m' },
    before: ['GET', 'GET', 'GET'],
    gap: 60_000,
    refused: 'GET',
  },
  { name: 'token bucket', policy: { algorithm: 'token-bucket', rate: 1, per: '1m', burst: 2 }, before: ['POST'], refused: 'GET' },
  {
    name: 'token bucket, partly refilled',
    policy: { algorithm: 'token-bucket', rate: 3, per: '1m', burst: 3 },
    before: ['POST', 'GET'],
    gap: 7_000,
    refused: 'POST',
  },
  // Refilled for exactly the announced 23 s, 1/24 + 23/24 of a token came out 0.9999999999999999.
  {
    name: 'token bucket, a fractional rate',
    policy: { algorithm: 'token-bucket', rate: 2.5, per: '1m', burst: 1, cost: 1 },
    before: ['GET'],
    gap: 1_000,
    refused: 'GET',
  },
  { name: 'leaky bucket', policy: { algorithm: 'leaky-bucket', rate: 1, per: '1m', burst: 2 }, before: ['POST'], refused: 'GET' },
  {
    name: 'leaky bucket, partly drained',
    policy: { algorithm: 'leaky-bucket', rate: 3, per: '1m', burst: 3 },
    before: ['POST', 'GET'],
    gap: 7_000,
    refused: 'POST',
  },
];

for (const store of ['memory', 'redis'] as const) {
  for (const c of CASES) {
    test(
      `${store} store, ${c.name}: Retry-After = t, and the request passes after exactly that wait`,
      { skip: store === 'redis' && !up },
      async () => {
        const l = limited(store, c.policy);
        for (const m of c.before) assert.equal(await l.send(m), undefined, `${m} before the refusal`);
        if (c.gap) l.advance(c.gap);
        const refusal = await l.send(c.refused);
        assert.equal(refusal?.status, 429);
        const retryAfter = Number(refusal.headers!['retry-after']);
        const t = Number(/;t=(\d+)$/.exec(refusal.headers!.ratelimit!)?.[1]);
        assert.ok(retryAfter >= 1, String(retryAfter));
        assert.equal(t, retryAfter, `RateLimit ${refusal.headers!.ratelimit} vs Retry-After ${retryAfter}`);
        l.advance((retryAfter - 1) * 1000);
        assert.equal((await l.send(c.refused))?.status, 429, `refused again after ${retryAfter - 1} s`);
        l.advance(1000);
        assert.equal(await l.send(c.refused), undefined, `admitted after ${retryAfter} s`);
      },
    );
  }
}
