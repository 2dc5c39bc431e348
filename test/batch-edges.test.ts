// Batch routes at their edges (a review of issue 20), over real sockets with a real gateway: an
// item to an mtls route from a batch sent with a client certificate, bodies nested deeper than
// JSON.stringify can go (in the batch and in an item's response), JSON numbers past a double's
// precision, text that JSON escaping would make six times larger, and a cache shared by items and
// direct requests; and CORS for a batch from another origin, each response checked as a browser
// would check it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { makePki, type Pair, type TestPki } from './helpers/certs.js';
import { maybeUnset } from './helpers/hooks.js';
import { rawRequest } from './helpers/raw.js';
import { startOtlpReceiver } from './helpers/otlp-receiver.js';
import { waitFor } from './helpers/child.js';

let pki: TestPki;
let alice: Pair;
let up: Upstream;
let gw: TestGateway;
let tlsGw: TestGateway;

const CONTROL = '\u0001'.repeat(3000);
const PARTNER = 'https://partner.example';
const BIG = '{"id":12345678901234567890123,"x":1.0}';

before(async () => {
  pki = makePki();
  alice = pki.client('alice', 'alice-client', 'URI:spiffe://test/alice');
  up = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url!;
      if (url.startsWith('/open/echo')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(Buffer.concat(chunks));
      } else if (url.startsWith('/open/control')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(CONTROL);
      } else if (url.startsWith('/open/big')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(BIG);
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' });
        res.end(JSON.stringify({ url, proto: req.headers['x-forwarded-proto'] }));
      }
    });
  });
  const routes = [
    {
      name: 'batch',
      match: { paths: ['/batch'] },
      batch: { maxRequests: 10 },
      policies: [{ type: 'cors', origins: [PARTNER], credentials: true }],
    },
    {
      name: 'partnered',
      match: { paths: ['/partnered/*'] },
      service: 'origin',
      policies: [{ type: 'cors', origins: [PARTNER], credentials: true }],
    },
    { name: 'public', match: { paths: ['/public/*'] }, service: 'origin', policies: [{ type: 'cors', origins: ['*'] }] },
    { name: 'secure', match: { paths: ['/secure/*'] }, service: 'origin', policies: [{ type: 'mtls' }] },
    { name: 'cached', match: { paths: ['/cached/*'] }, service: 'origin', policies: [{ type: 'cache' }] },
    { name: 'open', match: { paths: ['/open/*'] }, service: 'origin' },
    {
      name: 'writable',
      match: { paths: ['/writable/*'] },
      service: 'origin',
      policies: [{ type: 'cors', origins: [PARTNER], credentials: true, methods: ['GET', 'PUT'], headers: ['content-type'] }],
    },
  ];
  const services = { origin: { targets: [{ url: up.url }] } };
  gw = await startTestGateway({ services, routes });
  tlsGw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', tls: { cert: pki.server.certPath, key: pki.server.key, clientCa: pki.ca.cert } }],
    services,
    consumers: [{ id: 'alice', credentials: [{ type: 'mtls', san: 'spiffe://test/alice' }] }],
    routes,
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(tlsGw)?.stop();
  await maybeUnset(up)?.close();
  maybeUnset(pki)?.cleanup();
});

interface Entry {
  status: number;
  headers: Record<string, string | string[]>;
  body: unknown;
  encoding?: string;
}

async function batch(body: unknown, base = gw.url, dispatcher?: Agent, headers: Record<string, string> = {}) {
  const res = await request(base + '/batch', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: JSON.parse(text) as unknown };
}

const code = (x: unknown) => (x as { error: { code: string } }).error.code;
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

test('a batch sent with a client certificate: an item to an mtls route is its 401, never a 500; other items run', async () => {
  const agent = new Agent({ connect: { ca: pki.ca.cert, cert: alice.cert, key: alice.key } });
  try {
    const direct = await request(`https://127.0.0.1:${tlsGw.port}/secure/a`, { dispatcher: agent });
    await direct.body.dump();
    assert.equal(direct.statusCode, 200, 'the certificate itself is good');
    const { status, json } = await batch([{ path: '/secure/a' }, { path: '/open/b' }], `https://127.0.0.1:${tlsGw.port}`, agent);
    assert.equal(status, 200);
    const [secure, open] = json as [Entry, Entry];
    assert.equal(secure.status, 401, 'a request of a batch has no handshake of its own: no certificate');
    assert.equal(code(secure.body), 'GW_UNAUTHORIZED');
    assert.equal(open.status, 200);
    assert.equal((open.body as { proto: string }).proto, 'https');
  } finally {
    await agent.close();
  }
});

test('an item body nested deeper than JSON.stringify can go is that item’s GW_BATCH_INVALID, not a 500', async () => {
  const hits = up.hits;
  const { status, json } = await batch(`[{"method":"POST","path":"/open/echo","body":${deep(200_000)}}]`);
  assert.equal(status, 400);
  assert.equal(code(json), 'GW_BATCH_INVALID');
  assert.deepEqual(
    (json as { error: { details: { index: number; field: string }[] } }).error.details.map((d) => [d.index, d.field]),
    [[0, 'body']],
  );
  assert.equal(up.hits, hits, 'nothing ran');
});

test('an item’s deeply nested JSON response is its entry as sent; the batch and the other items are answered', async () => {
  const nested = deep(200_000);
  const { status, text, json } = await batch([
    { method: 'POST', path: '/open/echo', headers: { 'content-type': 'application/json' }, body: nested },
    { path: '/open/after' },
  ]);
  assert.equal(status, 200);
  const [echo, after] = json as [Entry, Entry];
  assert.equal(echo.status, 200);
  assert.ok(text.includes(`"body":${nested}}`));
  assert.equal(after.status, 200);
});

test('JSON bodies go into the answer as sent: numbers keep every digit', async () => {
  const { text } = await batch([{ path: '/open/big' }]);
  assert.ok(text.includes(`"body":${BIG}}`), text);
});

test('text that escaping would make larger than base64 comes in base64: the answer stays near the body’s size', async () => {
  const { text, json } = await batch([{ path: '/open/control' }]);
  const [entry] = json as [Entry];
  assert.equal(entry.encoding, 'base64');
  assert.equal(Buffer.from(entry.body as string, 'base64').toString(), CONTROL);
  assert.ok(text.length < 2 * CONTROL.length, `${text.length} bytes for ${CONTROL.length} of text`);
});

test('items and direct requests share the cache: the Host with the listener’s port is the usual one for both', async () => {
  const direct = await request(gw.url + '/cached/shared');
  await direct.body.dump();
  assert.equal(direct.statusCode, 200);
  const hits = up.hits;
  const { json } = await batch([{ path: '/cached/shared' }]);
  assert.equal((json as [Entry])[0].status, 200);
  assert.equal(up.hits, hits, 'the item was answered from the entry the direct request stored');
  const first = await batch([{ path: '/cached/item-first' }]);
  assert.equal((first.json as [Entry])[0].status, 200);
  const after = up.hits;
  const again = await request(gw.url + '/cached/item-first');
  await again.body.dump();
  assert.equal(up.hits, after, 'a direct request is answered from the entry an item stored');
});

test('a batch from another origin: a response that does not allow that origin is hidden, as a browser would hide it', async () => {
  const items = [{ path: '/open/a' }, { path: '/partnered/b' }, { path: '/public/c' }];
  const statuses = async (headers: Record<string, string>) => {
    const { status, json } = await batch(items, gw.url, undefined, headers);
    assert.equal(status, 200);
    return (json as Entry[]).map((e) => (e.status === 403 ? code(e.body) : e.status));
  };
  // With the user's cookies: only the route that allows the partner with credentials is readable.
  assert.deepEqual(await statuses({ origin: PARTNER, cookie: 'session=s3cret' }), ['GW_CORS_FORBIDDEN', 200, 'GW_CORS_FORBIDDEN']);
  // Without cookies "*" is enough, as for the browser.
  assert.deepEqual(await statuses({ origin: PARTNER }), ['GW_CORS_FORBIDDEN', 200, 200]);
  // Same origin (the page of the host the batch was sent to), or no browser at all: nothing is hidden.
  assert.deepEqual(await statuses({ origin: gw.url, cookie: 'session=s3cret' }), [200, 200, 200]);
  assert.deepEqual(await statuses({ cookie: 'session=s3cret' }), [200, 200, 200]);
});

test('a batch from another origin: an item a browser would preflight is preflighted at its route, and not sent when refused', async () => {
  const seen = () => up.seen.map((r) => `${r.method} ${r.url}`);
  const items = [
    { method: 'DELETE', path: '/open/del' }, // no CORS on the route: a browser's preflight would fail
    { method: 'PUT', path: '/writable/put', body: { a: 1 } }, // PUT and Content-Type allowed
    { method: 'DELETE', path: '/writable/del' }, // DELETE not among the route's methods
    { path: '/writable/custom', headers: { 'x-custom': '1' } }, // a field the route does not allow
    { path: '/writable/plain' }, // simple: no preflight
  ];
  const { status, json } = await batch(items, gw.url, undefined, { origin: PARTNER, cookie: 'session=s3cret' });
  assert.equal(status, 200);
  const got = (json as Entry[]).map((e) => (e.status === 403 ? code(e.body) : e.status));
  assert.deepEqual(got, ['GW_CORS_FORBIDDEN', 200, 'GW_CORS_FORBIDDEN', 'GW_CORS_FORBIDDEN', 200]);
  assert.ok(!seen().includes('DELETE /open/del'), 'a refused item is never sent');
  assert.ok(!seen().includes('DELETE /writable/del'));
  assert.ok(!seen().some((r) => r.endsWith('/writable/custom')));
  assert.ok(seen().includes('PUT /writable/put'));
  // Same origin: nothing to preflight, every item runs.
  const same = await batch([{ method: 'DELETE', path: '/open/del2' }], gw.url, undefined, { origin: gw.url, cookie: 'session=s3cret' });
  assert.equal((same.json as Entry[])[0]!.status, 200);
});

test('an item whose header fields are over maxHeaderSize is its 431, as a direct request’s; the next item runs', async () => {
  const { status, json } = await batch([{ path: '/open/a', headers: { 'x-big': 'y'.repeat(20_000) } }, { path: '/open/b' }]);
  assert.equal(status, 200);
  const [big, next] = json as [Entry, Entry];
  assert.equal(big.status, 431);
  assert.equal(code(big.body), 'GW_BAD_REQUEST');
  assert.equal(next.status, 200);
});

test('a batch without a Host (HTTP/1.0) is refused: its requests would be routed by a host nobody sent', async () => {
  const hits = up.hits;
  const body = JSON.stringify([{ path: '/open/a' }]);
  const wire = await rawRequest(
    gw.port,
    `POST /batch HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
  assert.match(wire, /^HTTP\/1\.1 400 /);
  assert.match(wire, /GW_BATCH_INVALID/);
  assert.equal(up.hits, hits, 'no request of the batch ran');
});

test('traced: each item is a child of the batch’s server span (not its sibling), in the same trace', async () => {
  const rx = await startOtlpReceiver();
  const traced = await startTestGateway({
    tracing: { endpoint: rx.url, sampleRatio: 1 },
    services: { origin: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'batch', match: { paths: ['/batch'] }, batch: {} },
      { name: 'open', match: { paths: ['/open/*'] }, service: 'origin' },
    ],
  });
  try {
    const parent = '0af7651916cd43dd8448eb211c80319c';
    const { status } = await batch([{ path: '/open/t1' }, { path: '/open/t2' }], traced.url, undefined, {
      traceparent: `00-${parent}-b7ad6b7169203331-01`,
    });
    assert.equal(status, 200);
    const dp = (traced.instance.engine as unknown as { dp: { tracer: { exporter: { flush(): Promise<void> } } } }).dp;
    const spans = await waitFor('three server spans', async () => {
      await dp.tracer.exporter.flush();
      return rx.spans.filter((s) => s.kind === 2).length >= 3 ? rx.spans : undefined;
    });
    const servers = spans.filter((s) => s.kind === 2);
    const outer = servers.find((s) => s.parentSpanId === 'b7ad6b7169203331')!;
    assert.ok(outer, 'the batch’s server span is under the client’s');
    const items = servers.filter((s) => s !== outer);
    assert.equal(items.length, 2);
    for (const s of items) {
      assert.equal(s.traceId, parent);
      assert.equal(s.parentSpanId, outer.spanId);
    }
  } finally {
    await traced.stop();
    await rx.close();
  }
});
