// Routing and forwarding basics, over HTTP/1.1 and HTTP/2 alike (the listener takes both).
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { bothClients } from './helpers/clients.js';

let up: Upstream;
let gw: TestGateway;

before(async () => {
  up = await startUpstream();
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { users: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'users-v1', match: { paths: ['/api/v1/users', '/api/v1/users/*'] }, service: 'users', stripPrefix: '/api/v1' },
      { name: 'people-v2', match: { paths: ['/api/v2/people/:id'] }, service: 'users', rewrite: '/users/:id' },
    ],
  });
});
const clients = bothClients();
after(async () => {
  for (const c of clients) await c.close();
  await gw.stop();
  await up.close();
});

for (const client of clients) {
  describe(client.name, () => {
    test('forwards to the service with the prefix stripped and the query kept', async () => {
      const res = await client.request(`${gw.url}/api/v1/users/42?x=1&y=%20`);
      assert.equal(res.statusCode, 200);
      const body = (await res.body.json()) as { url: string; headers: Record<string, string> };
      assert.equal(body.url, '/users/42?x=1&y=%20');
      assert.equal(body.headers.host, `127.0.0.1:${up.port}`);
      assert.equal(body.headers.via, '1.1 gatehouse');
      assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      assert.equal(body.headers['x-request-id'], res.headers['x-request-id']);
    });

    test('rewrite substitutes params', async () => {
      const res = await client.request(`${gw.url}/api/v2/people/7`);
      const body = (await res.body.json()) as { url: string };
      assert.equal(body.url, '/users/7');
    });

    test('no route gives a JSON 404 with a stable code', async () => {
      const res = await client.request(`${gw.url}/nope`);
      assert.equal(res.statusCode, 404);
      const body = (await res.body.json()) as { error: { code: string; requestId: string } };
      assert.equal(body.error.code, 'GW_ROUTE_NOT_FOUND');
      assert.equal(body.error.requestId, res.headers['x-request-id']);
    });
  });
}
