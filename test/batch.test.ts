// Batch routes end to end (issue 20): a real gateway with a `batch` route, driven over HTTP as a
// client would — items through their own routes and policies (authenticated once by the batch's
// fields), the client's address through a trusted proxy for each item, nesting refused, and the
// batch's bounds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

let up: Upstream;
let gw: TestGateway;

before(async () => {
  up = await startUpstream();
  gw = await startTestGateway({
    trustedProxies: ['127.0.0.1'],
    services: { origin: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
    routes: [
      { name: 'batch', match: { paths: ['/batch'] }, batch: { maxRequests: 5 } },
      { name: 'keyed', match: { paths: ['/keyed/*'] }, service: 'origin', policies: [{ type: 'key-auth' }] },
      {
        name: 'guarded',
        match: { paths: ['/guarded/*'] },
        service: 'origin',
        policies: [{ type: 'ip-restriction', deny: ['203.0.113.0/24'] }],
      },
      { name: 'open', match: { paths: ['/open/*'] }, service: 'origin' },
    ],
  });
});

after(async () => {
  await gw.stop();
  await up.close();
});

interface Entry {
  status: number;
  headers: Record<string, string | string[]>;
  body: unknown;
}

async function batch(body: unknown, headers: Record<string, string> = {}) {
  const res = await request(gw.url + '/batch', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, json: await res.body.json() };
}

const code = (x: unknown) => (x as { error: { code: string } }).error.code;
const seen = (e: Entry) => e.body as { method: string; url: string; headers: Record<string, string> };

test('a batch runs each request through its own route and policies and answers their responses in order', async () => {
  const { status, json } = await batch(
    [
      { path: '/keyed/a?x=1' },
      { path: '/open/b' },
      { path: '/keyed/c', headers: { 'x-api-key': 'nobody-0123456789' } },
      { path: '/nowhere' },
    ],
    { 'x-api-key': 'alice-key-0123456789' },
  );
  assert.equal(status, 200);
  const [a, b, c, d] = json as [Entry, Entry, Entry, Entry];
  assert.equal(a.status, 200);
  assert.equal(seen(a).url, '/keyed/a?x=1');
  assert.equal(seen(a).headers['x-consumer-id'], 'alice', 'authenticated once, by the batch’s own field');
  assert.equal(b.status, 200);
  assert.equal(c.status, 401, 'an item’s own field replaces the inherited one');
  assert.equal(code(c.body), 'GW_UNAUTHORIZED');
  assert.equal(d.status, 404);
  assert.equal(code(d.body), 'GW_ROUTE_NOT_FOUND');
});

test('each item comes from the batch’s client, as resolved through trusted proxies', async () => {
  const { json } = await batch([{ path: '/guarded/x' }, { path: '/open/y' }], { 'x-forwarded-for': '203.0.113.9' });
  const [guarded, open] = json as [Entry, Entry];
  assert.equal(guarded.status, 403);
  assert.equal(code(guarded.body), 'GW_IP_FORBIDDEN');
  assert.equal(seen(open).headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  const spoof = await batch([{ path: '/guarded/x', headers: { 'x-forwarded-for': '198.51.100.1' } }], { 'x-forwarded-for': '203.0.113.9' });
  assert.equal(spoof.status, 400, 'an item cannot choose its own client address');
  assert.equal(code(spoof.json), 'GW_BATCH_INVALID');
});

test('batches do not nest: an item to the batch route is that item’s 400', async () => {
  const { status, json } = await batch([{ method: 'POST', path: '/batch', body: [{ path: '/open/a' }] }, { path: '/open/b' }]);
  assert.equal(status, 200);
  const [nested, open] = json as [Entry, Entry];
  assert.equal(nested.status, 400);
  assert.equal(code(nested.body), 'GW_BATCH_NESTED');
  assert.equal(open.status, 200);
});

test('bounds: more than maxRequests is 400 GW_BATCH_TOO_MANY, a body over maxBody 413, not JSON 400 GW_BATCH_INVALID', async () => {
  const hits = up.hits;
  const many = await batch(Array.from({ length: 6 }, () => ({ path: '/open/a' })));
  assert.equal(many.status, 400);
  assert.equal(code(many.json), 'GW_BATCH_TOO_MANY');
  const huge = await batch(JSON.stringify([{ path: '/open/a', method: 'POST', body: 'x'.repeat(1024 * 1024 + 10) }]));
  assert.equal(huge.status, 413);
  assert.equal(code(huge.json), 'GW_PAYLOAD_TOO_LARGE');
  const notJson = await batch('[{"path": "/open/a"');
  assert.equal(notJson.status, 400);
  assert.equal(code(notJson.json), 'GW_BATCH_INVALID');
  assert.equal(up.hits, hits, 'no item of a refused batch ran');
});
