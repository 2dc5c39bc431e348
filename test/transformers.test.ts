// request-transformer and response-transformer through a real gateway, over HTTP/1.1 and HTTP/2:
// the service sees the edited headers, query and JSON body (with a Content-Length of its own), the
// client the edited response (its ETag gone, its length right); a body that is not JSON, too
// large, or fails its reshape gets its stable error and nothing half-written; routes without
// body edits keep streaming.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { http1Client, http2Client, type TestClient } from './helpers/clients.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let gw: TestGateway;
const h2 = http2Client();
const clients: TestClient[] = [http1Client, h2];

interface Seen {
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** /echo/*: what arrived; /json/<kind>: a JSON answer of that kind; /raw/*: the request body back as the service's answer. */
function service(req: IncomingMessage, res: import('node:http').ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const url = req.url!;
    if (url.startsWith('/echo/')) {
      const seen: Seen = { url, headers: req.headers, body };
      res.writeHead(200, { 'content-type': 'application/json', etag: '"e1"' });
      return void res.end(JSON.stringify(seen));
    }
    const type = /[?&]type=([^&]+)/.exec(url)?.[1] ?? 'application/json';
    const status = Number(/[?&]status=(\d+)/.exec(url)?.[1] ?? 200);
    const headers = { 'content-type': decodeURIComponent(type), etag: '"v7"', 'x-internal': 'secret' };
    if (url.startsWith('/json/big')) {
      res.writeHead(status, headers);
      return void res.end(JSON.stringify({ pad: 'x'.repeat(5000) }));
    }
    if (url.startsWith('/json/broken')) {
      res.writeHead(status, headers);
      return void res.end('{"order": {"id": 1,');
    }
    if (url.startsWith('/json/chunked')) {
      res.writeHead(status, headers); // no length: chunked, in pieces
      res.write('{"order":{"id":1,');
      return void setTimeout(() => res.end('"secret":"s","items":[{"price":2},{"price":3}]}}'), 20);
    }
    const answer = JSON.stringify({ order: { id: 1, secret: 's', items: [{ price: 2 }, { price: 3 }] } });
    res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
  });
}

before(async () => {
  up = await startUpstream(service);
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    consumers: [
      { id: 'acme', username: 'acme-corp', groups: ['partners', 'gold'], credentials: [{ type: 'api-key', key: 'acme-key-0123456789' }] },
    ],
    services: { up: { targets: [{ url: up.url }] } },
    routes: [
      {
        name: 'in',
        match: { paths: ['/echo/orders/:id'] },
        service: 'up',
        policies: [
          { type: 'key-auth' },
          {
            type: 'request-transformer',
            maxBody: '2kb',
            headers: {
              remove: ['x-debug'],
              rename: { 'x-old': 'x-new' },
              set: { 'x-consumer': '{{consumer.username}}' },
              append: { 'x-via': 'gatehouse' },
            },
            query: { remove: ['apikey'], rename: { q: 'search' }, add: { limit: '20' } },
            body: {
              remove: ['password'],
              rename: { 'items[*].qty': 'items[*].quantity' },
              set: { orderId: '{{params.id | number}}', 'meta.consumer': '{{consumer.id}}', 'meta.groups': '{{consumer.groups}}' },
              add: { currency: 'EUR' },
              wrap: 'data',
            },
          },
        ],
      },
      {
        name: 'reshape-in',
        match: { paths: ['/echo/reshape'] },
        service: 'up',
        policies: [{ type: 'request-transformer', body: { reshape: '{ "skus": items.sku, "n": $count(items) }', requireJson: true } }],
      },
      {
        name: 'out',
        match: { paths: ['/json/*'] },
        service: 'up',
        policies: [
          {
            type: 'response-transformer',
            when: { status: ['2xx'], contentType: ['application/json'] },
            maxBody: '4kb',
            headers: { remove: ['x-internal'], set: { 'x-transformed': 'yes' } },
            body: { unwrap: 'order', remove: ['secret'], set: { 'served.by': '{{route}}' } },
          },
        ],
      },
      {
        name: 'out-pass',
        match: { paths: ['/pass/*'] },
        service: 'up',
        rewrite: '/json/big',
        policies: [{ type: 'response-transformer', maxBody: '1kb', onTooLarge: 'pass', body: { set: { seen: true } } }],
      },
      {
        name: 'out-reshape',
        match: { paths: ['/reshape/*'] },
        service: 'up',
        rewrite: '/json/plain',
        policies: [
          { type: 'response-transformer', body: { reshape: '{ "id": order.id, "total": $sum(order.items.price), "status": $status }' } },
        ],
      },
      {
        name: 'out-reshape-fails',
        match: { paths: ['/reshape-fails/*'] },
        service: 'up',
        rewrite: '/json/plain',
        // $number of the secret fails with JSONata's D3030, whose message quotes the value.
        policies: [{ type: 'response-transformer', body: { reshape: '{ "id": order.id, "n": $number(order.secret & "-hidden") }' } }],
      },
    ],
  });
});

after(async () => {
  await h2.close();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

const KEY = 'acme-key-0123456789';

for (const client of clients) {
  test(`${client.name}: the service gets the edited headers, query and JSON body with its own Content-Length`, async () => {
    const body = JSON.stringify({
      password: 'hunter2',
      items: [
        { sku: 'A', qty: 1 },
        { sku: 'B', qty: 2 },
      ],
      currency: 'USD',
    });
    const r = await client.request(`${gw.url}/echo/orders/42?apikey=leaked&q=caf%C3%A9&x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'x-debug': '1', 'x-old': 'moved', 'x-consumer': 'spoofed' },
      body,
    });
    assert.equal(r.statusCode, 200);
    const seen = (await r.body.json()) as Seen;
    assert.equal(seen.url, '/echo/orders/42?search=caf%C3%A9&x=1&limit=20');
    assert.equal(seen.headers['x-debug'], undefined);
    assert.equal(seen.headers['x-new'], 'moved');
    assert.equal(seen.headers['x-consumer'], 'acme-corp');
    assert.equal(seen.headers['x-via'], 'gatehouse');
    assert.equal(seen.headers['content-length'], String(Buffer.byteLength(seen.body)));
    assert.equal(seen.headers['transfer-encoding'], undefined);
    assert.deepEqual(JSON.parse(seen.body), {
      data: {
        items: [
          { sku: 'A', quantity: 1 },
          { sku: 'B', quantity: 2 },
        ],
        currency: 'USD',
        orderId: 42,
        meta: { consumer: 'acme', groups: ['partners', 'gold'] },
      },
    });
  });

  test(`${client.name}: a request body that is not JSON is 400 GW_BAD_BODY with its position; one over maxBody 413; the service sees neither`, async () => {
    const hits = up.hits;
    const bad = await client.request(`${gw.url}/echo/orders/1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: '{"items": [1, 2,, 3]}',
    });
    assert.equal(bad.statusCode, 400);
    const err = (await bad.body.json()) as { error: { code: string; message: string; details: unknown } };
    assert.equal(err.error.code, 'GW_BAD_BODY');
    assert.deepEqual(err.error.details, { position: 16, line: 1, column: 17 });
    assert.match(err.error.message, /line 1, column 17/);
    const big = await client.request(`${gw.url}/echo/orders/1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({ pad: 'p'.repeat(3000) }),
    });
    assert.equal(big.statusCode, 413);
    assert.equal(((await big.body.json()) as { error: { code: string } }).error.code, 'GW_PAYLOAD_TOO_LARGE');
    const notJson = await client.request(`${gw.url}/echo/reshape`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'items',
    });
    assert.equal(notJson.statusCode, 400);
    assert.equal(((await notJson.body.json()) as { error: { code: string } }).error.code, 'GW_BAD_BODY');
    assert.equal(up.hits, hits);
  });

  test(`${client.name}: a JSONata reshape of the request body`, async () => {
    const r = await client.request(`${gw.url}/echo/reshape`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ sku: 'A' }, { sku: 'B' }] }),
    });
    assert.deepEqual(JSON.parse(((await r.body.json()) as Seen).body), { skus: ['A', 'B'], n: 2 });
  });

  test(`${client.name}: the client gets the edited response: body, headers, no ETag, its own length (also from a chunked service body)`, async () => {
    for (const path of ['/json/plain', '/json/chunked']) {
      const r = await client.request(`${gw.url}${path}`);
      assert.equal(r.statusCode, 200);
      const text = await r.body.text();
      assert.deepEqual(JSON.parse(text), { id: 1, items: [{ price: 2 }, { price: 3 }], served: { by: 'out' } }, path);
      assert.equal(r.headers['content-length'], String(Buffer.byteLength(text)));
      assert.equal(r.headers.etag, undefined);
      assert.equal(r.headers['x-internal'], undefined);
      assert.equal(r.headers['x-transformed'], 'yes');
    }
  });

  test(`${client.name}: responses \`when\` does not select pass untouched, ETag and all`, async () => {
    for (const q of ['status=500', 'type=text%2Fplain']) {
      const r = await client.request(`${gw.url}/json/plain?${q}`);
      const text = await r.body.text();
      assert.equal((JSON.parse(text) as { order: { secret: string } }).order.secret, 's', q);
      assert.equal(r.headers.etag, '"v7"');
      assert.equal(r.headers['x-internal'], 'secret');
      assert.equal(r.headers['x-transformed'], undefined);
    }
  });

  test(`${client.name}: a service body that is not JSON is 502 GW_UPSTREAM_BODY_INVALID; past maxBody 502 GW_UPSTREAM_BODY_TOO_LARGE or (pass) unchanged`, async () => {
    const broken = await client.request(`${gw.url}/json/broken`);
    assert.equal(broken.statusCode, 502);
    const err = (await broken.body.json()) as { error: { code: string; details: unknown } };
    assert.equal(err.error.code, 'GW_UPSTREAM_BODY_INVALID');
    assert.deepEqual(err.error.details, { position: 19, line: 1, column: 20 });
    const big = await client.request(`${gw.url}/json/big`);
    assert.equal(big.statusCode, 502);
    assert.equal(((await big.body.json()) as { error: { code: string } }).error.code, 'GW_UPSTREAM_BODY_TOO_LARGE');
    const pass = await client.request(`${gw.url}/pass/x`);
    assert.equal(pass.statusCode, 200);
    const text = await pass.body.text();
    assert.equal((JSON.parse(text) as { seen?: boolean }).seen, undefined);
    assert.equal(text.length, JSON.stringify({ pad: 'x'.repeat(5000) }).length);
  });

  test(`${client.name}: a JSONata reshape of the response with $status`, async () => {
    const r = await client.request(`${gw.url}/reshape/x`);
    assert.deepEqual(await r.body.json(), { id: 1, total: 5, status: 200 });
  });

  test(`${client.name}: a reshape that fails answers its code, never the value JSONata quotes`, async () => {
    const r = await client.request(`${gw.url}/reshape-fails/x`);
    assert.equal(r.statusCode, 502);
    const text = await r.body.text();
    assert.match(text, /GW_UPSTREAM_BODY_INVALID/);
    assert.match(text, /D3030/);
    assert.doesNotMatch(text, /s-hidden/);
  });
}
