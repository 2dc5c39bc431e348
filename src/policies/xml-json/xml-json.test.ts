// xml-json on its own: both conversions (attributes, text, CDATA, repeated and one-element arrays,
// coercion, namespaces kept or stripped, root element), JSON keys and strings that XML cannot
// carry, every XML attack refused with where it is (billion laughs, external and parameter
// entities, deep nesting), and SOAP 1.1/1.2 envelopes and faults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { testContext, testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { xmlJsonPolicy } from './xml-json.js';
import { BodyRefusal, type Policy, type RequestContext, type RespondVerdict } from '../types.js';
import type { ResponseRewrite } from '../types.js';

function make(policy: Record<string, unknown>): Policy {
  const r = validateConfig({
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'xml-json', ...policy }] }],
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return xmlJsonPolicy.create(r.config.routes[0]!.policies[0]! as never, testEnv({ config: r.config, routeName: 'r' }));
}
function ctx(): RequestContext {
  return { ...testContext({ method: 'POST' }), req: { rawHeaders: [], headers: {} } as unknown as IncomingMessage };
}
/** A request body through the policy: its verdict, the new body and the headers it sends. */
function send(p: Policy, body: string, contentType: string) {
  const c = ctx();
  const b = { body: Buffer.from(body), contentType };
  const verdict = p.requestBody!(c, b) as RespondVerdict | undefined;
  const headers = ['content-type', contentType, 'accept', '*/*'];
  p.upstreamRequest?.(c, headers);
  return { verdict, body: b.body.toString(), headers };
}
/** A response body through the policy: the new body and headers, or the refusal it throws. */
async function answer(p: Policy, body: string, contentType: string, status = 200) {
  const info = { status, headers: ['content-type', contentType, 'etag', '"x"'] };
  p.response?.(ctx(), info);
  const rw = p.responseBody!(ctx(), info) as ResponseRewrite | undefined;
  if (rw === undefined) return { untouched: true as const };
  try {
    const out = await rw.rewrite(Buffer.from(body), info);
    return { body: out.toString(), headers: info.headers };
  } catch (err) {
    if (err instanceof BodyRefusal) return { refusal: err };
    throw err;
  }
}

const ORDER_XML = `<?xml version="1.0" encoding="UTF-8"?>
<order id="42" priority="1">
  <customer>c-7</customer>
  <note><![CDATA[<fragile> & "handle with care"]]></note>
  <items><item sku="A"><qty>2</qty></item></items>
  <tag>a</tag><tag>b</tag>
  <paid>true</paid>
  <code>007</code>
  <desc lang="en">red &amp; blue &#65;</desc>
  <empty/>
</order>`;

test('XML → JSON: attributes, text beside attributes, CDATA, repeated elements, and listed ones always arrays; strings unless coerce', async () => {
  const p = make({ response: 'xml-to-json', arrays: ['order.items.item'] });
  const r = await answer(p, ORDER_XML, 'application/xml');
  assert.deepEqual(JSON.parse(r.body!), {
    order: {
      '@id': '42',
      '@priority': '1',
      customer: 'c-7',
      note: '<fragile> & "handle with care"',
      items: { item: [{ '@sku': 'A', qty: '2' }] },
      tag: ['a', 'b'],
      paid: 'true',
      code: '007',
      desc: { '#text': 'red & blue A', '@lang': 'en' },
      empty: '',
    },
  });
  assert.deepEqual(r.headers, ['content-type', 'application/json; charset=utf-8']);
  type Coerced = { order: { '@id': unknown; paid: unknown; code: unknown; items: { item: { qty: unknown }[] } } };
  const coercing = make({ response: 'xml-to-json', coerce: true, arrays: ['item'] });
  const coerced = JSON.parse((await answer(coercing, ORDER_XML, 'text/xml')).body!) as Coerced;
  assert.equal(coerced.order['@id'], 42);
  assert.equal(coerced.order.paid, true);
  assert.equal(coerced.order.code, '007', 'a leading zero stays text');
  assert.equal(coerced.order.items.item[0]!.qty, 2);
});

test('XML → JSON: namespace prefixes kept (with their xmlns) or stripped', async () => {
  const xml = '<o:order xmlns:o="urn:orders" o:v="2"><o:id>1</o:id></o:order>';
  assert.deepEqual(JSON.parse((await answer(make({ response: 'xml-to-json' }), xml, 'application/xml')).body!), {
    'o:order': { 'o:id': '1', '@xmlns:o': 'urn:orders', '@o:v': '2' },
  });
  assert.deepEqual(JSON.parse((await answer(make({ response: 'xml-to-json', namespaces: 'strip' }), xml, 'application/xml')).body!), {
    order: { id: '1', '@v': '2' },
  });
});

test('JSON → XML: the single key is the root (else rootElement or "root"), arrays repeat, attributes and text, escaping', () => {
  const p = make({ request: 'json-to-xml' });
  const r = send(
    p,
    JSON.stringify({
      order: { '@id': 'a"<&', item: [{ sku: 'A' }, { sku: 'B<' }], note: { '@lang': 'en', '#text': 'x & y' }, none: null },
    }),
    'application/json',
  );
  assert.equal(r.verdict, undefined);
  assert.equal(
    r.body,
    '<?xml version="1.0" encoding="UTF-8"?><order id="a&quot;&lt;&amp;"><item><sku>A</sku></item><item><sku>B&lt;</sku></item><note lang="en">x &amp; y</note><none/></order>',
  );
  assert.deepEqual(r.headers, ['accept', '*/*', 'content-type', 'application/xml; charset=utf-8']);
  assert.equal(send(p, '{"a":1,"b":2}', 'application/json').body, '<?xml version="1.0" encoding="UTF-8"?><root><a>1</a><b>2</b></root>');
  assert.equal(
    send(make({ request: 'json-to-xml', rootElement: 'req' }), '{"a":1}', 'application/json').body,
    '<?xml version="1.0" encoding="UTF-8"?><req><a>1</a></req>',
  );
  assert.equal(send(p, 'a=1', 'application/x-www-form-urlencoded').body, 'a=1', 'not JSON: untouched');
  assert.equal(
    send(p, '[1,{"a":2}]', 'application/json').body,
    '<?xml version="1.0" encoding="UTF-8"?><root><item>1</item><item><a>2</a></item></root>',
  );
});

test('JSON → XML: keys that are not XML names and characters XML cannot carry are refused, never written as markup', () => {
  const p = make({ request: 'json-to-xml' });
  for (const body of [
    '{"order":{"x><evil/><y":1}}',
    '{"order":{"@a b":1}}',
    '{"1st":1}',
    '{"order":"\\u0001"}',
    '{"order":"\\ud800"}', // half a surrogate pair: no character at all
    '{"order":"x\\udc00y"}',
    '{"order":{"a\\ud800":1}}',
    '{"order":[[1,2],[3]]}',
    '{"order":{"@id":{"x":1}}}',
    '{"order":{"#text":["a"]}}',
    '{"order":{"#text":null,"@id":1}}', // the builder wrote <#text/>
  ]) {
    const r = send(p, body, 'application/json');
    assert.equal(r.verdict?.code, 'GW_BAD_BODY', body);
    assert.equal(r.verdict.status, 400);
  }
  const bad = send(p, '{"order": [1,}', 'application/json');
  assert.deepEqual(bad.verdict?.details, { position: 13, line: 1, column: 14 });
});

test('XML attacks are refused with where they are: billion laughs, external and parameter entities, any DOCTYPE, deep nesting, malformed', () => {
  const p = make({ request: 'xml-to-json', maxDepth: 10 });
  const laughs =
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n<lolz>&lol1;</lolz>';
  const external = '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>';
  const parameter = '<!DOCTYPE foo [<!ENTITY % remote SYSTEM "http://127.0.0.1:1/evil.dtd"> %remote;]><foo/>';
  const plainDoctype = '<!DOCTYPE html><foo/>';
  for (const [xml, line] of [
    [laughs, 2],
    [external, 1],
    [parameter, 1],
    [plainDoctype, 1],
  ] as const) {
    const r = send(p, xml, 'application/xml');
    assert.equal(r.verdict?.code, 'GW_BAD_BODY');
    assert.match(r.verdict.message ?? '', /document type or entity declaration is not accepted/);
    assert.equal((r.verdict.details as { line: number }).line, line);
    assert.ok(!r.body.includes('root:'), 'nothing was read');
  }
  const deep = send(p, '<a>'.repeat(11) + '</a>'.repeat(11), 'application/xml');
  assert.match(deep.verdict?.message ?? '', /nested deeper than 10/);
  const veryDeep = send(p, '<a>'.repeat(200000), 'application/xml');
  assert.equal(veryDeep.verdict?.code, 'GW_BAD_BODY');
  const malformed = send(p, '<a>\n<b></a>', 'application/xml');
  assert.equal(malformed.verdict?.code, 'GW_BAD_BODY');
  assert.deepEqual(malformed.verdict.details, { line: 2, column: 7 }); // where saxes finds it: the end of </a>
  // A DOCTYPE-looking text inside CDATA or a comment is text.
  const cdata = send(p, '<a><![CDATA[<!DOCTYPE x>]]><!-- <!ENTITY y "z"> --></a>', 'text/xml');
  assert.equal(cdata.verdict, undefined);
  assert.deepEqual(JSON.parse(cdata.body), { a: '<!DOCTYPE x>' });
});

test('SOAP 1.1: a JSON request goes in an Envelope with SOAPAction; the answer’s Body comes back as JSON', async () => {
  const p = make({
    request: 'json-to-xml',
    response: 'xml-to-json',
    soap: { version: '1.1', action: 'urn:GetOrder', operation: 'GetOrder', namespace: 'urn:orders' },
  });
  const r = send(p, '{"id":42}', 'application/json');
  assert.equal(
    r.body,
    '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetOrder xmlns="urn:orders"><id>42</id></GetOrder></soap:Body></soap:Envelope>',
  );

  assert.equal(r.headers[r.headers.indexOf('soapaction') + 1], '"urn:GetOrder"');
  assert.equal(r.headers[r.headers.indexOf('content-type') + 1], 'text/xml; charset=utf-8');
  assert.equal(r.headers[r.headers.indexOf('accept') + 1], 'text/xml');
  const ok = await answer(
    p,
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetOrderResponse xmlns="urn:orders"><order><id>42</id></order></GetOrderResponse></s:Body></s:Envelope>',
    'text/xml; charset=utf-8',
  );
  assert.deepEqual(JSON.parse(ok.body!), { GetOrderResponse: { order: { id: '42' }, '@xmlns': 'urn:orders' } });
});

test('SOAP faults become errors: 1.1 Client → 400, Server → 502; 1.2 Sender/Receiver likewise, with code, reason and detail', async () => {
  const p11 = make({ response: 'xml-to-json', soap: { version: '1.1' } });
  const fault11 = (code: string) =>
    `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:${code}</faultcode><faultstring>Order 9 does not exist</faultstring><detail><id>9</id></detail></soap:Fault></soap:Body></soap:Envelope>`;
  const client = await answer(p11, fault11('Client'), 'text/xml', 500);
  assert.equal(client.refusal?.code, 'GW_SOAP_FAULT');
  assert.equal(client.refusal.status, 400);
  assert.equal(client.refusal.message, 'Order 9 does not exist');
  assert.deepEqual(JSON.parse(JSON.stringify(client.refusal.details)), {
    faultcode: 'soap:Client',
    faultstring: 'Order 9 does not exist',
    detail: { id: '9' },
  });
  assert.equal((await answer(p11, fault11('Server'), 'text/xml', 500)).refusal?.status, 502);

  const p12 = make({ response: 'xml-to-json', soap: { version: '1.2', serverFaultStatus: 503 } });
  const fault12 = (code: string) =>
    `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:${code}</env:Value></env:Code><env:Reason><env:Text xml:lang="en">Bad id</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`;
  const sender = await answer(p12, fault12('Sender'), 'application/soap+xml');
  assert.equal(sender.refusal?.status, 400);
  assert.equal(sender.refusal.message, 'Bad id');
  assert.equal((await answer(p12, fault12('Receiver'), 'application/soap+xml')).refusal?.status, 503);
  const notSoap = await answer(p12, '<order/>', 'application/xml');
  assert.equal(notSoap.refusal?.code, 'GW_UPSTREAM_BODY_INVALID');
});

test('responses: JSON → XML back to an XML client; a malformed service body is 502 GW_UPSTREAM_BODY_INVALID; other types untouched', async () => {
  const p = make({ response: 'json-to-xml', rootElement: 'result' });
  const r = await answer(p, '{"id":1,"tags":["a","b"]}', 'application/json');
  assert.equal(r.body, '<?xml version="1.0" encoding="UTF-8"?><result><id>1</id><tags>a</tags><tags>b</tags></result>');
  assert.deepEqual(r.headers, ['content-type', 'application/xml; charset=utf-8']);
  assert.equal((await answer(p, '{"id":', 'application/json')).refusal?.code, 'GW_UPSTREAM_BODY_INVALID');
  assert.equal((await answer(p, 'hello', 'text/plain')).untouched, true);
  const x = make({ response: 'xml-to-json' });
  const bad = await answer(x, '<a><b></a>', 'application/xml');
  assert.equal(bad.refusal?.code, 'GW_UPSTREAM_BODY_INVALID');
  assert.deepEqual(bad.refusal.details, { line: 1, column: 10 });
});

test('XML names that are Object.prototype keys stay plain keys; an undefined entity is an error', async () => {
  const p = make({ response: 'xml-to-json' });
  const r = await answer(p, '<r><__proto__><polluted>yes</polluted></__proto__><constructor>c</constructor></r>', 'application/xml');
  assert.equal(r.body, '{"r":{"__proto__":{"polluted":"yes"},"constructor":"c"}}');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const undefinedEntity = await answer(p, '<r>&nope;</r>', 'application/xml');
  assert.equal(undefinedEntity.refusal?.code, 'GW_UPSTREAM_BODY_INVALID');
});

test('JSON → XML: "#text" or an attribute alone as the only key goes under root (a document needs an element)', () => {
  const p = make({ request: 'json-to-xml' });
  assert.equal(send(p, '{"#text":"x"}', 'application/json').body, '<?xml version="1.0" encoding="UTF-8"?><root>x</root>');
  assert.equal(send(p, '{"@id":"7"}', 'application/json').body, '<?xml version="1.0" encoding="UTF-8"?><root id="7"></root>');
});

test('XML is read in its character set (Content-Type, byte order mark, XML declaration); bytes not in it are refused, never replaced', async () => {
  const p = make({ request: 'xml-to-json' });
  /** Bytes (not a JS string) through the request phase. */
  const sendBytes = (bytes: Buffer, contentType: string) => {
    const b = { body: bytes, contentType };
    const verdict = p.requestBody!(ctx(), b) as RespondVerdict | undefined;
    return { verdict, body: b.body.toString() };
  };
  const latin1 = Buffer.from('<name>Ren\u00e9e</name>', 'latin1');
  assert.equal(sendBytes(latin1, 'application/xml; charset=ISO-8859-1').body, '{"name":"Renée"}');
  const declared = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><name>Ren\u00e9e</name>', 'latin1');
  assert.equal(sendBytes(declared, 'application/xml').body, '{"name":"Renée"}');
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<name>Ren\u00e9e</name>', 'utf16le')]);
  assert.equal(sendBytes(utf16, 'text/xml').body, '{"name":"Renée"}');
  assert.equal(sendBytes(Buffer.from('<name>Renée</name>'), 'text/xml').body, '{"name":"Renée"}', 'UTF-8 by default');

  const broken = sendBytes(latin1, 'application/xml'); // Latin-1 bytes, nothing says so: not UTF-8
  assert.equal(broken.verdict?.code, 'GW_BAD_BODY');
  assert.equal(broken.verdict.message, 'The request body cannot be read: it is not valid utf-8 text.');
  const unknown = sendBytes(Buffer.from('<a/>'), 'application/xml; charset=x-klingon');
  assert.equal(unknown.verdict?.message, 'The request body cannot be read: its character set "x-klingon" is not supported.');

  const r = make({ response: 'xml-to-json' });
  const info = { status: 200, headers: ['content-type', 'application/xml'] };
  const rw = r.responseBody!(ctx(), info) as ResponseRewrite;
  await assert.rejects(
    async () => rw.rewrite(latin1, info),
    (err: unknown) => err instanceof BodyRefusal && err.code === 'GW_UPSTREAM_BODY_INVALID' && /not valid utf-8/.test(err.message),
  );
  const json = make({ request: 'json-to-xml' });
  const b = { body: Buffer.from('{"a":"\u00e9"}', 'latin1'), contentType: 'application/json' };
  assert.equal((json.requestBody!(ctx(), b) as RespondVerdict | undefined)?.code, 'GW_BAD_BODY', 'JSON is UTF-8 unless it says otherwise');
});

test('JSON → XML: tabs and line breaks are written as references, so an XML reader gets them back unnormalised', () => {
  const original = { note: { '@title': 'a\tb\nc', '#text': 'l1\r\nl2' } };
  const xml = send(make({ request: 'json-to-xml' }), JSON.stringify(original), 'application/json').body;
  assert.equal(xml, '<?xml version="1.0" encoding="UTF-8"?><note title="a&#9;b&#10;c">l1&#13;&#10;l2</note>');
  assert.deepEqual(JSON.parse(send(make({ request: 'xml-to-json' }), xml, 'application/xml').body), original);
});

test('SOAP: the operation element with its namespace holds any JSON: an object, a scalar, a list, or nothing for null', () => {
  const p = make({ request: 'json-to-xml', soap: { version: '1.2', operation: 'm:Op', namespace: 'urn:x' } });
  const body = (json: string) => /<soap:Body>(.*)<\/soap:Body>/.exec(send(p, json, 'application/json').body)?.[1];
  assert.equal(body('null'), '<m:Op xmlns:m="urn:x"></m:Op>');
  assert.equal(body('"s"'), '<m:Op xmlns:m="urn:x">s</m:Op>');
  assert.equal(body('[1,2]'), '<m:Op xmlns:m="urn:x"><item>1</item><item>2</item></m:Op>');
  assert.equal(body('{"@id":1,"b":2}'), '<m:Op xmlns:m="urn:x" id="1"><b>2</b></m:Op>');
});

test('config: soap goes only with JSON requests and XML answers (it would be ignored the other way)', () => {
  assert.throws(() => make({ request: 'xml-to-json', soap: { version: '1.1' } }), /soap wraps JSON requests/);
  assert.throws(() => make({ response: 'json-to-xml', soap: { version: '1.2' } }), /soap wraps JSON requests/);
  assert.equal(typeof make({ request: 'none', response: 'xml-to-json', soap: { version: '1.2' } }).responseBody, 'function');
});
