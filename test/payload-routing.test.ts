// Payload routing (`match.body`) through a real gateway over HTTP/1.1 and HTTP/2: JSON paths and
// form fields choose the route, the body reaches the service byte for byte (read whole, or — past
// server.maxBodyForMatch — what was read followed by the rest of the stream), a body that is not
// JSON or is too large matches no body condition, and `gatehouse explain --data` says the same.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { http1Client, http2Client, type TestClient } from './helpers/clients.js';
import { runCli, tempDir, type TempDir } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let gw: TestGateway;
let dir: TempDir;
const h2 = http2Client();
const clients: TestClient[] = [http1Client, h2];

const tag = (name: string) => [{ type: 'headers', request: { set: { 'x-route': name } } }];

const ROUTES = [
  {
    name: 'vip',
    priority: 10,
    match: { paths: ['/api/*'], methods: ['POST'], body: { '$.customer.vip': true } },
    service: 'up',
    policies: tag('vip'),
  },
  { name: 'orders', match: { paths: ['/api/*'], methods: ['POST'], body: { '$.type': 'order' } }, service: 'up', policies: tag('orders') },
  {
    name: 'refunds',
    match: {
      paths: ['/api/*'],
      methods: ['POST'],
      body: { '$.type': { oneOf: ['refund', 'chargeback'] }, '$.items[0].sku': { regex: '^R-' } },
    },
    service: 'up',
    policies: tag('refunds'),
  },
  {
    name: 'subscribe',
    match: { paths: ['/api/*'], methods: ['POST'], body: { action: 'subscribe' } },
    service: 'up',
    policies: tag('subscribe'),
  },
  {
    name: 'anonymous',
    match: { paths: ['/api/*'], methods: ['POST'], body: { "$['user id']": { present: false } } },
    service: 'up',
    policies: tag('anonymous'),
  },
  { name: 'fallback', match: { paths: ['/api/*'] }, service: 'up', policies: tag('fallback') },
];

before(async () => {
  up = await startUpstream((req, res) => {
    const hash = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      n += c.length;
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ route: req.headers['x-route'], bytes: n, sha: hash.digest('hex'), cl: req.headers['content-length'] ?? null }),
      );
    });
  });
  dir = await tempDir();
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    server: { maxBodyForMatch: '1kb' },
    services: { up: { targets: [{ url: up.url }] } },
    routes: ROUTES,
  });
});

after(async () => {
  await h2.close();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  await maybeUnset(dir)?.remove();
});

interface Seen {
  route: string;
  bytes: number;
  sha: string;
  cl: string | null;
}

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const JSON_TYPE = { 'content-type': 'application/json' };

for (const client of clients) {
  const post = async (body: string, headers: Record<string, string> = JSON_TYPE): Promise<Seen> => {
    const r = await client.request(`${gw.url}/api/x`, { method: 'POST', headers, body });
    assert.equal(r.statusCode, 200);
    const seen = (await r.body.json()) as Seen;
    assert.equal(seen.sha, sha(body), 'the service got the body unchanged');
    return seen;
  };

  test(`${client.name}: JSON paths choose the route (equality, oneOf + regex, a nested boolean with priority, an absent key)`, async () => {
    assert.equal((await post('{"type":"order","user id":1}')).route, 'orders');
    assert.equal((await post('{"type":"refund","items":[{"sku":"R-1"}],"user id":1}')).route, 'refunds');
    assert.equal((await post('{"type":"chargeback","items":[{"sku":"X-1"}],"user id":1}')).route, 'fallback', 'regex fails');
    assert.equal((await post('{"type":"order","customer":{"vip":true}}')).route, 'vip');
    assert.equal((await post('{"type":"order","customer":{"vip":"true"}}')).route, 'orders', '"true" is not true');
    assert.equal((await post('{"type":"other"}')).route, 'anonymous');
    assert.equal((await post('{"type":1,"user id":2}')).route, 'fallback');
  });

  test(`${client.name}: a form field chooses the route; a body that is not JSON, or malformed, matches no JSON condition`, async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    assert.equal((await post('action=subscribe&email=a%40b.c', form)).route, 'subscribe');
    assert.equal((await post('action=unsubscribe', form)).route, 'fallback');
    assert.equal((await post('{"type":"order"}', { 'content-type': 'text/plain' })).route, 'fallback');
    assert.equal((await post('{"type":"order",', JSON_TYPE)).route, 'fallback');
  });

  test(`${client.name}: a body past maxBodyForMatch matches no body condition and reaches the service whole`, async () => {
    const big = JSON.stringify({ type: 'order', pad: 'p'.repeat(50_000) });
    const seen = await post(big);
    assert.equal(seen.route, 'fallback');
    assert.equal(seen.bytes, big.length);
  });

  test(`${client.name}: a request without a body holds no body condition, "present: false" included`, async () => {
    const r = await client.request(`${gw.url}/api/x`, { method: 'POST' });
    assert.equal(((await r.body.json()) as Seen).route, 'fallback');
    const get = await client.request(`${gw.url}/api/x`);
    assert.equal(((await get.body.json()) as Seen).route, 'fallback', 'GET: the POST routes are out before any body is read');
  });
}

test('HTTP/1.1 chunked: under the bound read whole and routed (sent with its length); over it, the read part and the rest arrive in order', async () => {
  const small = '{"type":"order"}';
  const r = await request(`${gw.url}/api/x`, {
    method: 'POST',
    headers: JSON_TYPE,
    body: Readable.from([small.slice(0, 5), small.slice(5)]),
  });
  const seen = (await r.body.json()) as Seen;
  assert.equal(seen.route, 'orders');
  assert.equal(seen.sha, sha(small));
  const parts = Array.from({ length: 40 }, (_, i) => `{"chunk":${i},"pad":"${'q'.repeat(1000)}"}\n`);
  const big = await request(`${gw.url}/api/x`, { method: 'POST', headers: JSON_TYPE, body: Readable.from(parts) });
  const bigSeen = (await big.body.json()) as Seen;
  assert.equal(bigSeen.route, 'fallback');
  assert.equal(bigSeen.sha, sha(parts.join('')));
});

test('explain --data tests the body conditions as the gateway does; the route table lists them', async () => {
  const cfg = await dir.file(
    'gatehouse.json',
    JSON.stringify({ listen: [{ port: 8080 }], services: { up: { targets: [{ url: 'http://127.0.0.1:1' }] } }, routes: ROUTES }),
  );
  const args = ['explain', '--config', cfg, 'POST', 'http://h/api/x', '-H', 'content-type: application/json'];
  const order = await runCli([...args, '--data', '{"type":"order","user id":1}']);
  assert.equal(order.code, 0, order.stderr);
  assert.match(order.stdout, /matched: route "orders".*body \$\.type = "order"/);
  const none = await runCli(args);
  assert.match(none.stdout, /route "fallback"/);
  assert.match(none.stdout, /#\d+ orders .*body \$\.type = "order" does not hold \(no body given: --data\)/);
  const table = await runCli(['routes', '--config', cfg]);
  assert.match(table.stdout, /body \$\.items\[0\]\.sku ~ \/\^R-\//);
});

test('config: a malformed body path or regex is a validation error with its place', async () => {
  const cfg = await dir.file(
    'bad.json',
    JSON.stringify({
      listen: [{ port: 8080 }],
      services: { up: { targets: [{ url: 'http://127.0.0.1:1' }] } },
      routes: [{ name: 'r', match: { body: { '$.a..b': 1, '$.ok': { regex: '(' } } }, service: 'up' }],
    }),
  );
  const r = await runCli(['validate', '--config', cfg]);
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, /routes\[0\]\.match\.body\.\$\.a\.\.b.*a name must follow "\."/);
  assert.match(r.stdout + r.stderr, /routes\[0\]\.match\.body\.\$\.ok\.regex.*not a regular expression/);
});
