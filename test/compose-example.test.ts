// examples/bff.yaml against three real services: the home screen as docs/aggregation.md shows it,
// partial when the recommendation service is down, and the reshaped card.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { request } from 'undici';
import { loadConfigFile } from '../src/validation/load.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';

const examples = new URL('../../examples/', import.meta.url).pathname;
const KEY = 'mobile-app-key-123456';
const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

let users: Upstream, orders: Upstream, recs: Upstream, gw: TestGateway;
let recsDown = false;

before(async () => {
  users = await startUpstream((req, res) =>
    send(res, 200, { id: 7, name: 'Ann', passwordHash: 'x', internalNotes: 'y', consumer: req.headers['x-consumer-id'] }),
  );
  orders = await startUpstream((req, res) => {
    const lines = /^\/orders\/(\d+)\/lines$/.exec(req.url!);
    if (lines) return send(res, 200, lines[1] === '1' ? [{ sku: 'A' }] : [{ sku: 'B' }, { sku: 'C' }]);
    if (req.url!.startsWith('/users/7/orders'))
      return send(res, 200, {
        items: [
          { id: 1, status: 'open' },
          { id: 2, status: 'shipped' },
        ],
      });
    send(res, 404, {});
  });
  recs = await startUpstream((req, res) =>
    recsDown ? send(res, 503, {}) : send(res, 200, [{ sku: 'D', title: 'Socks', score: 0.9, for: req.url }]),
  );
  const r = await loadConfigFile(join(examples, 'bff.yaml'), { USERS_URL: users.url, ORDERS_URL: orders.url, RECS_URL: recs.url });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  gw = await startTestGateway({ services: r.config.services, routes: r.config.routes, consumers: r.config.consumers });
});
after(async () => {
  await maybeUnset(gw)?.stop();
  for (const u of [users, orders, recs]) await maybeUnset(u)?.close();
});

async function get(path: string) {
  const res = await request(gw.url + path, { headers: { 'x-api-key': KEY } });
  return { status: res.statusCode, partial: res.headers['gatehouse-partial'], body: (await res.body.json()) as Record<string, unknown> };
}

test('bff example: the home screen in one call', async () => {
  const r = await get('/home?orders=5');
  assert.equal(r.status, 200);
  assert.equal(r.partial, undefined);
  assert.deepEqual(r.body, {
    user: { id: 7, name: 'Ann', consumer: 'mobile-app' },
    orders: [
      { id: 1, status: 'open' },
      { id: 2, status: 'shipped' },
    ],
    lines: [[{ sku: 'A' }], [{ sku: 'B' }, { sku: 'C' }]],
    recommendations: [{ sku: 'D', title: 'Socks' }],
  });
  assert.equal(orders.seen.find((s) => s.url.startsWith('/users/7/orders'))!.url, '/users/7/orders?limit=5');
  assert.equal(recs.seen.at(-1)!.url, '/for/mobile-app');
});

test('bff example: the recommendation service down, the rest still answers (partial)', async () => {
  recsDown = true;
  try {
    const r = await get('/home');
    assert.equal(r.status, 200);
    assert.equal(r.partial, 'true');
    assert.deepEqual(r.body._failed, ['recommendations']);
    assert.equal(r.body.recommendations, undefined);
    assert.deepEqual(r.body.user, { id: 7, name: 'Ann', consumer: 'mobile-app' });
  } finally {
    recsDown = false;
  }
});

test('bff example: the reshaped card, and no key: 401 before any call', async () => {
  const r = await get('/home/card');
  assert.deepEqual(r.body, { greeting: 'Hello Ann', openOrders: 1 });
  const before = users.hits;
  const anon = await request(gw.url + '/home');
  await anon.body.dump();
  assert.equal(anon.statusCode, 401);
  assert.equal(users.hits, before);
});
