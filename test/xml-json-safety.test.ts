// xml-json through a real gateway against a hostile or oversized service and a SOAP 1.2 service:
// XML attacks in a service's answer (billion laughs, external and parameter entities, deep
// nesting) are 502 GW_UPSTREAM_BODY_INVALID and nothing of them reaches the client; bodies over
// maxBody are 413 on the way in (the service never sees them) and 502 (or passed unchanged with
// onTooLarge: pass) on the way out; bodies read in their character set; SOAP 1.2's action
// parameter, Body and Sender/Receiver faults.
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
const seen: { type: string | undefined; body: string }[] = [];

const HOSTILE: Record<string, string> = {
  laughs:
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><lolz>&lol2;</lolz>',
  external: '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>',
  parameter: '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY % dtd SYSTEM "http://127.0.0.1:1/evil.dtd"> %dtd;]><foo>x</foo>',
  deep: '<a>'.repeat(100) + '</a>'.repeat(100),
};
const ENV12 = (inner: string) =>
  `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>${inner}</env:Body></env:Envelope>`;

/** /hostile?<attack>: XML attacks; /big: an XML answer of ?n bytes; /soap12: a SOAP 1.2 stock service. */
function service(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    seen.push({ type: req.headers['content-type'], body });
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/hostile') {
      res.writeHead(200, { 'content-type': 'application/xml' });
      return void res.end(HOSTILE[url.search.slice(1)]);
    }
    if (url.pathname.endsWith('/big')) {
      const n = Number(url.searchParams.get('n'));
      res.writeHead(200, { 'content-type': 'application/xml', etag: '"big"' });
      return void res.end(`<r>${'x'.repeat(n - 7)}</r>`);
    }
    const sku = /<sku>([^<]*)<\/sku>/.exec(body)?.[1] ?? '';
    res.writeHead(sku === 'A' ? 200 : 500, { 'content-type': 'application/soap+xml; charset=utf-8' });
    if (sku === 'A') return void res.end(ENV12('<m:StockResponse xmlns:m="urn:stock"><m:count>3</m:count></m:StockResponse>'));
    const code = sku === '' ? 'Sender' : 'Receiver';
    res.end(
      ENV12(
        `<env:Fault><env:Code><env:Value>env:${code}</env:Value></env:Code><env:Reason><env:Text xml:lang="en">No stock for ${sku || 'nothing'}</env:Text></env:Reason><env:Detail><m:sku xmlns:m="urn:stock">${sku}</m:sku></env:Detail></env:Fault>`,
      ),
    );
  });
}

before(async () => {
  up = await startUpstream(service);
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { up: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'hostile', match: { paths: ['/hostile'] }, service: 'up', policies: [{ type: 'xml-json', response: 'xml-to-json' }] },
      {
        name: 'limited',
        match: { paths: ['/big'] },
        service: 'up',
        policies: [{ type: 'xml-json', request: 'xml-to-json', response: 'xml-to-json', maxBody: 1024 }],
      },
      {
        name: 'limited-pass',
        match: { paths: ['/pass/big'] },
        service: 'up',
        policies: [{ type: 'xml-json', response: 'xml-to-json', maxBody: 1024, onTooLarge: 'pass' }],
      },
      {
        name: 'stock',
        match: { paths: ['/soap12'] },
        service: 'up',
        policies: [
          {
            type: 'xml-json',
            request: 'json-to-xml',
            response: 'xml-to-json',
            namespaces: 'strip',
            coerce: true,
            soap: { version: '1.2', action: 'urn:stock/Get', operation: 'm:GetStock', namespace: 'urn:stock' },
          },
        ],
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
  error: { code: string; message: string; details?: Record<string, unknown> };
}

for (const client of clients) {
  test(`${client.name}: XML attacks in the service's answer are 502 GW_UPSTREAM_BODY_INVALID, nothing of them sent on`, async () => {
    for (const attack of Object.keys(HOSTILE)) {
      const r = await client.request(`${gw.url}/hostile?${attack}`);
      const text = await r.body.text();
      assert.equal(r.statusCode, 502, attack);
      const err = (JSON.parse(text) as ErrorBody).error;
      assert.equal(err.code, 'GW_UPSTREAM_BODY_INVALID', attack);
      assert.match(err.message, attack === 'deep' ? /nested deeper than 64/ : /document type or entity declaration is not accepted/);
      assert.ok(!/lol|root:|passwd|evil/.test(text), `${attack}: ${text}`);
    }
  });

  test(`${client.name}: maxBody: a larger request is 413 before the service; a larger answer 502, or passed with onTooLarge: pass`, async () => {
    const hits = up.hits;
    const big = await client.request(`${gw.url}/big?n=10`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: `<r>${'x'.repeat(1100)}</r>`,
    });
    assert.equal(big.statusCode, 413);
    assert.equal(((await big.body.json()) as ErrorBody).error.code, 'GW_PAYLOAD_TOO_LARGE');
    assert.equal(up.hits, hits, 'the service saw nothing');

    const fits = await client.request(`${gw.url}/big?n=1024`);
    assert.equal(fits.statusCode, 200);
    assert.equal(fits.headers.etag, undefined, 'a converted body has new bytes');
    assert.equal(((await fits.body.json()) as { r: string }).r.length, 1017);
    const over = await client.request(`${gw.url}/big?n=1025`);
    assert.equal(over.statusCode, 502);
    assert.equal(((await over.body.json()) as ErrorBody).error.code, 'GW_UPSTREAM_BODY_TOO_LARGE');
    const passed = await client.request(`${gw.url}/pass/big?n=5000`);
    assert.equal(passed.statusCode, 200);
    assert.equal(passed.headers['content-type'], 'application/xml');
    assert.equal(passed.headers.etag, '"big"', 'the same bytes keep their validator');
    assert.equal((await passed.body.text()).length, 5000);
  });

  test(`${client.name}: XML in Latin-1 reaches the service as UTF-8 JSON; bytes not in the body's character set are 400`, async () => {
    const latin1 = Buffer.from('<name>Ren\u00e9e</name>', 'latin1');
    const r = await client.request(`${gw.url}/big?n=10`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml; charset=iso-8859-1' },
      body: latin1,
    });
    assert.equal(r.statusCode, 200);
    assert.equal(seen.at(-1)!.body, '{"name":"Renée"}');
    assert.equal(seen.at(-1)!.type, 'application/json; charset=utf-8');
    const hits = up.hits;
    const bad = await client.request(`${gw.url}/big?n=10`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: latin1,
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(((await bad.body.json()) as ErrorBody).error.message, 'The request body cannot be read: it is not valid utf-8 text.');
    assert.equal(up.hits, hits);
  });

  test(`${client.name}: SOAP 1.2: application/soap+xml with the action parameter out, the Body back as JSON, Sender 400 and Receiver 502`, async () => {
    const r = await client.request(`${gw.url}/soap12`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"sku":"A"}',
    });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(await r.body.json(), { StockResponse: { count: 3 } });
    const out = seen.at(-1)!;
    assert.equal(out.type, 'application/soap+xml; charset=utf-8; action="urn:stock/Get"');
    assert.equal(
      out.body,
      '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><m:GetStock xmlns:m="urn:stock"><sku>A</sku></m:GetStock></soap:Body></soap:Envelope>',
    );

    for (const [body, status, code] of [
      ['{"sku":""}', 400, 'env:Sender'],
      ['{"sku":"B"}', 502, 'env:Receiver'],
    ] as const) {
      const f = await client.request(`${gw.url}/soap12`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(f.statusCode, status);
      const err = ((await f.body.json()) as ErrorBody).error;
      assert.equal(err.code, 'GW_SOAP_FAULT');
      assert.equal(err.details?.faultcode, code);
      assert.match(err.message, /^No stock for /);
    }
  });
}
