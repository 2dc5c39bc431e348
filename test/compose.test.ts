// Composite routes (issue 20) against three real services of different latencies: the calls run in
// parallel (the services hold their answers until all three requests are in, which a sequential
// composite could never satisfy), dependent and forEach calls, optional and required failures,
// the composite's deadline, shaping, identity headers on every call, and what `validate` refuses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';
import { validateConfig } from '../src/validation/validate.js';

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
};

/** Answers held until `n` requests of the barrier's group have arrived (then after each one's delay). */
class Barrier {
  private waiting: (() => void)[] = [];
  arrived = 0;
  constructor(private readonly n: number) {}
  wait(then: () => void): void {
    this.arrived++;
    this.waiting.push(then);
    if (this.waiting.length >= this.n) for (const w of this.waiting.splice(0)) w();
  }
}
let barrier: Barrier | undefined;
const held = (req: IncomingMessage, delay: number, answer: () => void) => {
  const go = () => setTimeout(answer, delay);
  if (barrier !== undefined && req.url!.startsWith('/par')) barrier.wait(go);
  else go();
};

let users: Upstream;
let orders: Upstream;
let recs: Upstream;
let gw: TestGateway;

before(async () => {
  users = await startUpstream((req, res) => {
    const id = /\/users\/([^/?]+)/.exec(req.url!)?.[1] ?? 'none';
    if (req.url!.includes('/text')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('plain words');
    }
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => json(res, 201, { received: JSON.parse(Buffer.concat(chunks).toString()) as unknown }));
      return;
    }
    held(req, 50, () =>
      json(res, 200, {
        id: decodeURIComponent(id),
        name: `user ${decodeURIComponent(id)}`,
        secret: 's3',
        consumer: req.headers['x-consumer-id'] ?? null,
      }),
    );
  });
  orders = await startUpstream((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const detail = /^\/orders\/(\d+)$/.exec(url.pathname);
    if (detail) return json(res, 200, { order: Number(detail[1]), lines: [{ sku: `sku-${detail[1]}` }] });
    if (url.pathname === '/orders/fail') return json(res, 500, { oops: true });
    const count = Number(url.searchParams.get('count') ?? '2');
    held(req, 150, () =>
      json(res, 200, {
        user: url.searchParams.get('user'),
        items: Array.from({ length: count }, (_, i) => ({ id: i + 1, total: (i + 1) * 10 })),
      }),
    );
  });
  recs = await startUpstream((req, res) => {
    if (req.url!.startsWith('/recs/fail')) return json(res, 503, { down: true });
    if (req.url!.startsWith('/recs/slow')) return setTimeout(() => json(res, 200, { late: true }), 2000);
    held(req, 300, () => json(res, 200, ['a', 'b']));
  });
  const services = {
    users: { targets: [{ url: users.url }] },
    orders: { targets: [{ url: orders.url }] },
    recs: { targets: [{ url: recs.url }] },
  };
  gw = await startTestGateway({
    services,
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [
      {
        name: 'parallel',
        match: { paths: ['/par/:id'] },
        compose: {
          calls: [
            { name: 'user', service: 'users', path: '/par/users/{{params.id}}' },
            { name: 'orders', service: 'orders', path: '/par/orders', query: { user: '{{params.id}}' } },
            { name: 'recs', service: 'recs', path: '/par/recs' },
          ],
        },
      },
      {
        name: 'dependent',
        match: { paths: ['/dep/:id'] },
        policies: [{ type: 'key-auth' }],
        compose: {
          calls: [
            { name: 'user', service: 'users', path: '/users/{{params.id}}', pick: ['id', 'name', 'consumer'] },
            { name: 'orders', service: 'orders', path: '/orders', query: { user: '{{calls.user.body.id}}', count: '{{query.count}}' } },
            {
              name: 'details',
              service: 'orders',
              path: '/orders/{{item.id}}',
              forEach: 'calls.orders.body.items',
              maxFanOut: 3,
              extract: 'lines',
              flatten: true,
            },
          ],
        },
      },
      {
        name: 'optional',
        match: { paths: ['/opt/:mode'] },
        compose: {
          timeout: '1s',
          calls: [
            { name: 'user', service: 'users', path: '/users/7' },
            { name: 'recs', service: 'recs', path: '/recs/{{params.mode}}', required: false, timeout: '300ms' },
            { name: 'more', service: 'orders', path: '/orders/{{calls.recs.body.late}}', required: false },
          ],
        },
      },
      {
        name: 'required',
        match: { paths: ['/req/:mode'] },
        compose: {
          timeout: '500ms',
          calls: [
            { name: 'user', service: 'users', path: '/users/7' },
            { name: 'recs', service: 'recs', path: '/recs/{{params.mode}}' },
          ],
        },
      },
      {
        name: 'shaped',
        match: { paths: ['/shape/:id'] },
        compose: {
          output: 'merge',
          calls: [
            { name: 'user', service: 'users', path: '/users/{{params.id}}', remove: ['secret'], rename: { name: 'fullName' } },
            { name: 'orders', service: 'orders', path: '/orders', group: 'purchases', extract: 'items' },
            { name: 'text', service: 'users', path: '/users/x/text', nonJson: 'string' },
          ],
        },
      },
      {
        name: 'reshaped',
        match: { paths: ['/reshape/:id'] },
        compose: {
          reshape: '{ "who": user.name, "spent": $sum(orders.items.total), "param": $request.params.id }',
          calls: [
            { name: 'user', service: 'users', path: '/users/{{params.id}}' },
            { name: 'orders', service: 'orders', path: '/orders', query: { count: '3' } },
          ],
        },
      },
      {
        name: 'encoded',
        match: { paths: ['/encoded'] },
        compose: { calls: [{ name: 'user', service: 'users', path: '/users/{{query.id}}' }] },
      },
      {
        name: 'strict-json',
        match: { paths: ['/strict'] },
        compose: { calls: [{ name: 'text', service: 'users', path: '/users/x/text' }] },
      },
      {
        name: 'posting',
        match: { paths: ['/post'], methods: ['POST'] },
        compose: {
          calls: [
            {
              name: 'created',
              service: 'users',
              method: 'POST',
              path: '/users',
              body: { name: '{{body.name}}', tags: '{{body.tags}}', by: 'gateway' },
            },
          ],
        },
      },
    ],
  });
});

after(async () => {
  await gw.stop();
  await Promise.all([users.close(), orders.close(), recs.close()]);
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await request(gw.url + path, { headers });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

test('independent calls run in parallel: the services answer only once all three requests are in', async () => {
  barrier = new Barrier(3);
  const started = performance.now();
  const r = await get('/par/42');
  const ms = performance.now() - started;
  barrier = undefined;
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, {
    user: { id: '42', name: 'user 42', secret: 's3', consumer: null },
    orders: {
      user: '42',
      items: [
        { id: 1, total: 10 },
        { id: 2, total: 20 },
      ],
    },
    recs: ['a', 'b'],
  });
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['gatehouse-partial'], undefined);
  // It cannot be faster than its slowest call (300 ms); the barrier above proves it is not the sum.
  assert.ok(ms >= 300, `took ${ms} ms`);
});

test('a call that reads another call’s result runs after it; forEach runs once per element', async () => {
  const before = orders.seen.length;
  const r = await get('/dep/7?count=3', { 'x-api-key': 'alice-key-0123456789', authorization: 'Bearer not-forwarded' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body!.user, { id: '7', name: 'user 7', consumer: 'alice' });
  assert.deepEqual((r.body!.orders as { items: unknown[] }).items.length, 3);
  assert.deepEqual(r.body!.details, [{ sku: 'sku-1' }, { sku: 'sku-2' }, { sku: 'sku-3' }]);
  const seen = orders.seen.slice(before);
  assert.equal(seen[0]!.url, '/orders?user=7&count=3');
  assert.deepEqual(
    seen
      .slice(1)
      .map((s) => s.url)
      .sort(),
    ['/orders/1', '/orders/2', '/orders/3'],
  );
  // The identity the route's authentication set reaches every call; the client's credentials do not.
  for (const s of [...seen, users.seen.at(-1)!]) {
    assert.equal(s.headers['x-consumer-id'], 'alice');
    assert.equal(s.headers.authorization, undefined);
    assert.equal(s.headers['x-api-key'], undefined);
  }
});

test('forEach past maxFanOut fails the call: 502 GW_COMPOSE_FAN_OUT naming it', async () => {
  const r = await get('/dep/7?count=4', { 'x-api-key': 'alice-key-0123456789' });
  assert.equal(r.status, 502, r.text);
  const err = r.body!.error as { code: string; details: { call: string } };
  assert.equal(err.code, 'GW_COMPOSE_FAN_OUT');
  assert.equal(err.details.call, 'details');
});

test('an optional call that fails is left out, with the calls that need it; the answer is marked partial', async () => {
  const r = await get('/opt/fail');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['gatehouse-partial'], 'true');
  assert.deepEqual(Object.keys(r.body!).sort(), ['_failed', 'user']);
  assert.deepEqual(r.body!._failed, ['recs', 'more']);
});

test('an optional call that times out is left out; the answer does not wait for it', async () => {
  const started = performance.now();
  const r = await get('/opt/slow');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['gatehouse-partial'], 'true');
  assert.deepEqual(r.body!._failed, ['recs', 'more']);
  assert.ok(performance.now() - started < 2000, 'it did not wait for the 2 s answer');
});

test('a required call that fails: 502 GW_COMPOSE_CALL_FAILED naming the call and its status', async () => {
  const r = await get('/req/fail');
  assert.equal(r.status, 502);
  const err = r.body!.error as { code: string; details: Record<string, unknown> };
  assert.equal(err.code, 'GW_COMPOSE_CALL_FAILED');
  assert.deepEqual(err.details, { call: 'recs', service: 'recs', reason: 'it answered 503', status: 503 });
});

test('a required call still running at the composite’s deadline: 504 GW_COMPOSE_TIMEOUT', async () => {
  const r = await get('/req/slow');
  assert.equal(r.status, 504);
  const err = r.body!.error as { code: string; details: Record<string, unknown> };
  assert.equal(err.code, 'GW_COMPOSE_TIMEOUT');
  assert.equal(err.details.call, 'recs');
});

test('merge, remove, rename, extract under a group key, and a non-JSON answer as a string', async () => {
  const r = await get('/shape/9');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, {
    id: '9',
    fullName: 'user 9',
    consumer: null,
    purchases: [
      { id: 1, total: 10 },
      { id: 2, total: 20 },
    ],
    text: 'plain words',
  });
});

test('a reshape (JSONata) over the composed answer, with $request bound', async () => {
  const r = await get('/reshape/5');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body, { who: 'user 5', spent: 60, param: '5' });
});

test('a non-JSON answer fails a call with nonJson: error', async () => {
  const r = await get('/strict');
  assert.equal(r.status, 502);
  assert.match(r.text, /not JSON \(text\/plain\)/);
});

test('a POST composite builds a call’s JSON body from the client’s; a malformed body is 400 GW_BAD_BODY', async () => {
  const ok = await request(gw.url + '/post', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Ann', tags: ['x', 'y'], ignored: true }),
  });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(await ok.body.json(), { created: { received: { name: 'Ann', tags: ['x', 'y'], by: 'gateway' } } });
  const bad = await request(gw.url + '/post', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' });
  assert.equal(bad.statusCode, 400);
  assert.equal(((await bad.body.json()) as { error: { code: string } }).error.code, 'GW_BAD_BODY');
});

test('values put into a call’s path are encoded as one segment: no traversal, no extra segments', async () => {
  const before = users.seen.length;
  for (const [id, sent] of [
    ['../admin', '/users/..%2Fadmin'],
    ['a?b=1#c', '/users/a%3Fb%3D1%23c'],
  ]) {
    const r = await get(`/encoded?id=${encodeURIComponent(id!)}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(users.seen.at(-1)!.url, sent);
  }
  // A whole ".." segment is not sent at all, however encoded (test/compose-hostile.test.ts).
  const dots = await get('/encoded?id=..');
  assert.equal(dots.status, 502, dots.text);
  assert.equal(users.seen.length, before + 2);
});

function issuesOf(routes: unknown[], services: Record<string, unknown> = { users: { targets: [{ url: 'http://127.0.0.1:9' }] } }) {
  const r = validateConfig(testConfig({ services, routes }));
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('validate refuses a cycle, an unknown call or service, a route with both service and compose', () => {
  const cycle = issuesOf([
    {
      name: 'c',
      compose: {
        calls: [
          { name: 'a', service: 'users', path: '/a/{{calls.b.body.x}}' },
          { name: 'b', service: 'users', path: '/b', query: { x: '{{calls.a.body.y}}' } },
        ],
      },
    },
  ]);
  assert.ok(
    cycle.some((i) => /routes\[0\]\.compose\.calls\[0\]: the calls depend on each other in a cycle: a → b → a/.test(i)),
    cycle.join('\n'),
  );
  const unknown = issuesOf([{ name: 'u', compose: { calls: [{ name: 'a', service: 'nope', path: '/a/{{calls.zz.body}}' }] } }]);
  assert.ok(
    unknown.some((i) => i.startsWith('routes[0].compose.calls[0].service: service "nope" is not defined')),
    unknown.join('\n'),
  );
  assert.ok(
    unknown.some((i) => i.includes('there is no call "zz"')),
    unknown.join('\n'),
  );
  const both = issuesOf([{ name: 'b', service: 'users', compose: { calls: [{ name: 'a', service: 'users', path: '/a' }] } }]);
  assert.ok(
    both.some((i) => i.includes('either service or compose')),
    both.join('\n'),
  );
  const neither = issuesOf([{ name: 'n' }]);
  assert.ok(
    neither.some((i) => i.startsWith('routes[0].service: a route needs a service')),
    neither.join('\n'),
  );
  const template = issuesOf([{ name: 't', compose: { calls: [{ name: 'a', service: 'users', path: '/a/{{nope.x}}' }] } }]);
  assert.ok(
    template.some((i) => i.startsWith('routes[0].compose.calls[0].path: {{nope.x}}')),
    template.join('\n'),
  );
  const keys = issuesOf([
    {
      name: 'k',
      compose: {
        calls: [
          { name: 'a', service: 'users', path: '/a' },
          { name: 'b', service: 'users', path: '/b', group: 'a' },
          { name: '_failed', service: 'users', path: '/c' },
        ],
      },
    },
  ]);
  assert.ok(
    keys.some((i) => i === 'routes[0].compose.calls[1].group: its answer goes under "a", which call "a" uses'),
    keys.join('\n'),
  );
  assert.ok(
    keys.some((i) => i === 'routes[0].compose.calls[2].name: its answer goes under "_failed", which is the partialField'),
    keys.join('\n'),
  );
  const spoof = issuesOf([
    { name: 's', compose: { calls: [{ name: 'a', service: 'users', path: '/a', query: { who: '{{headers.X-Consumer-ID}}' } }] } },
  ]);
  assert.ok(
    spoof.some((i) => i.startsWith("routes[0].compose.calls[0].query.who: {{headers.X-Consumer-ID}}: the client's own x-consumer-id")),
    spoof.join('\n'),
  );
  const reshape = issuesOf([{ name: 'r', compose: { reshape: '{ "a": ', calls: [{ name: 'a', service: 'users', path: '/a' }] } }]);
  assert.ok(
    reshape.some((i) => i.startsWith('routes[0].compose.reshape: not a JSONata expression')),
    reshape.join('\n'),
  );
});
