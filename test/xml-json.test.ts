// xml-json through a real gateway, over HTTP/1.1 and HTTP/2: a JSON client in front of a SOAP 1.1
// service (the service gets an Envelope with SOAPAction, the client JSON; a Fault becomes a JSON
// error), an XML client in front of a JSON service, and XML attacks refused before the service
// sees anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { http1Client, http2Client, type TestClient } from './helpers/clients.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let gw: TestGateway;
const h2 = http2Client();
const clients: TestClient[] = [http1Client, h2];
const received: { url: string; type: string | undefined; action: string | undefined; accept: string | undefined; body: string }[] = [];

/** /soap: a SOAP 1.1 order service (id 404 is a Client fault, 500 a Server fault); /json: a JSON echo. */
function service(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    received.push({
      url: req.url!,
      type: req.headers['content-type'],
      action: req.headers.soapaction as string | undefined,
      accept: req.headers.accept,
      body,
    });
    if (req.url!.startsWith('/soap')) {
      const id = /<id>(\d+)<\/id>/.exec(body)?.[1] ?? '0';
      const env = (inner: string) =>
        `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${inner}</soap:Body></soap:Envelope>`;
      if (id === '404' || id === '500') {
        res.writeHead(500, { 'content-type': 'text/xml; charset=utf-8' });
        const code = id === '404' ? 'Client' : 'Server';
        return void res.end(
          env(
            `<soap:Fault><faultcode>soap:${code}</faultcode><faultstring>No order ${id}</faultstring><detail><id>${id}</id></detail></soap:Fault>`,
          ),
        );
      }
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', etag: '"s1"' });
      return void res.end(
        env(
          `<GetOrderResponse xmlns="urn:orders"><order id="${id}"><item><sku>A</sku></item><total>9.50</total></order></GetOrderResponse>`,
        ),
      );
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ received: JSON.parse(body) as unknown, tags: ['x', 'y'] }));
  });
}

before(async () => {
  up = await startUpstream(service);
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { up: { targets: [{ url: up.url }] } },
    routes: [
      {
        name: 'orders-soap',
        match: { paths: ['/soap'] },
        service: 'up',
        policies: [
          {
            type: 'xml-json',
            request: 'json-to-xml',
            response: 'xml-to-json',
            arrays: ['item'],
            coerce: true,
            namespaces: 'strip',
            soap: { version: '1.1', action: 'urn:orders/GetOrder', operation: 'GetOrder', namespace: 'urn:orders' },
          },
        ],
      },
      {
        name: 'xml-client',
        match: { paths: ['/json'] },
        service: 'up',
        policies: [{ type: 'xml-json', request: 'xml-to-json', response: 'json-to-xml', rootElement: 'result', maxDepth: 8 }],
      },
    ],
  });
});

after(async () => {
  await h2.close();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

interface ErrorBody {
  error: { code: string; message: string; details: unknown };
}

for (const client of clients) {
  test(`${client.name}: a JSON client and a SOAP 1.1 service: Envelope and SOAPAction out, the Body back as JSON`, async () => {
    const r = await client.request(`${gw.url}/soap`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"id":42}',
    });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(r.headers.etag, undefined);
    const text = await r.body.text();
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(text)));
    assert.deepEqual(JSON.parse(text), { GetOrderResponse: { order: { '@id': 42, item: [{ sku: 'A' }], total: 9.5 } } });
    const seen = received.at(-1)!;
    assert.equal(seen.type, 'text/xml; charset=utf-8');
    assert.equal(seen.action, '"urn:orders/GetOrder"');
    assert.equal(seen.accept, 'text/xml');
    assert.match(seen.body, /<soap:Body><GetOrder xmlns="urn:orders"><id>42<\/id><\/GetOrder><\/soap:Body>/);
  });

  test(`${client.name}: SOAP faults become JSON errors: Client 400, Server 502, GW_SOAP_FAULT with the detail`, async () => {
    for (const [id, status] of [
      [404, 400],
      [500, 502],
    ] as const) {
      const r = await client.request(`${gw.url}/soap`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id }),
      });
      assert.equal(r.statusCode, status);
      const err = (await r.body.json()) as ErrorBody;
      assert.equal(err.error.code, 'GW_SOAP_FAULT');
      assert.equal(err.error.message, `No order ${id}`);
      assert.deepEqual((err.error.details as { detail: unknown }).detail, { id });
    }
  });

  test(`${client.name}: an XML client and a JSON service, both ways`, async () => {
    const r = await client.request(`${gw.url}/json`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: '<?xml version="1.0"?><order id="7"><sku>A&amp;B</sku><qty>2</qty></order>',
    });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'application/xml; charset=utf-8');
    assert.equal(
      await r.body.text(),
      '<?xml version="1.0" encoding="UTF-8"?><result><received><order id="7"><sku>A&amp;B</sku><qty>2</qty></order></received><tags>x</tags><tags>y</tags></result>',
    );
    const seen = received.at(-1)!;
    assert.equal(seen.type, 'application/json; charset=utf-8');
    assert.equal(seen.accept, 'application/json');
    assert.deepEqual(JSON.parse(seen.body), { order: { '@id': '7', sku: 'A&B', qty: '2' } });
  });

  test(`${client.name}: XML attacks and malformed XML are 400 GW_BAD_BODY; the service sees none of them`, async () => {
    const hits = up.hits;
    const attacks = [
      '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>',
      '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>',
      '<a>'.repeat(9) + '</a>'.repeat(9),
      '<order><id>1</order>',
    ];
    for (const body of attacks) {
      const r = await client.request(`${gw.url}/json`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
      assert.equal(r.statusCode, 400, body.slice(0, 40));
      const err = (await r.body.json()) as ErrorBody;
      assert.equal(err.error.code, 'GW_BAD_BODY');
      assert.ok(!err.error.message.includes('passwd'));
    }
    const bad = await client.request(`${gw.url}/soap`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"x><evil/><y":1}',
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(up.hits, hits);
  });
}
