// What an allow list forwards is what it checked: a service reads the request its own way (many
// Node servers — express-graphql, koa-graphql — take a POST's `query` from the URL before the body;
// some JSON parsers keep the first of duplicate keys; some read a top-level `id`/`documentId`), so
// anything beside the checked parameters could run an operation nobody registered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { sha256Hex } from '../src/policies/graphql/persisted-schema.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { maybeUnset } from './helpers/hooks.js';

const REGISTERED = '{ hello }';
const SECRET = '{ secret }';

/** What the service got: its URL (path and query) and its body, raw. */
interface Got {
  url: string;
  contentType: string | undefined;
  body: string;
}

let up: Upstream;
let gw: TestGateway;

function record(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const got: Got = { url: req.url!, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') };
    const text = JSON.stringify({ data: got });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
}

before(async () => {
  up = await startUpstream(record);
  gw = await startTestGateway({
    services: { s: { targets: [{ url: up.url }] } },
    graphqlOperations: [{ body: REGISTERED }],
    routes: [
      {
        name: 'allow',
        match: { paths: ['/allow'] },
        service: 's',
        policies: [{ type: 'graphql', get: true, persisted: { mode: 'allowList' } }],
      },
      { name: 'plain', match: { paths: ['/plain'] }, service: 's', policies: [{ type: 'graphql', get: true }] },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

async function send(method: 'GET' | 'POST', pathAndQuery: string, body?: string, contentType = 'application/json') {
  const res = await request(gw.url + pathAndQuery, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body,
  });
  const json = (await res.body.json()) as { data?: Got; errors?: { extensions: { code: string } }[] };
  return { status: res.statusCode, got: json.data, code: json.errors?.[0]?.extensions.code };
}

test('a POST whose URL also carries GraphQL parameters is refused: a service may read them before the body', async () => {
  const hits = up.hits;
  const body = JSON.stringify({ query: REGISTERED });
  for (const path of ['/allow', '/plain']) {
    for (const q of [
      `query=${encodeURIComponent(SECRET)}`,
      `%71uery=${encodeURIComponent(SECRET)}`,
      'QUERY=x',
      'operationName=X',
      'variables=%7B%7D',
      'extensions=%7B%7D',
    ]) {
      const r = await send('POST', `${path}?${q}`, body);
      assert.equal(r.status, 400, `${path}?${q}`);
      assert.equal(r.code, 'GW_GRAPHQL_BAD_REQUEST', `${path}?${q}`);
    }
  }
  assert.equal(up.hits, hits, 'none reached the service');
  // Other parameters are the service's business.
  const ok = await send('POST', '/allow?trace=1', body);
  assert.equal(ok.status, 200);
  assert.equal(ok.got?.url, '/allow?trace=1');
});

test('a GET whose GraphQL parameter is also given in another case is refused (some servers read names case-insensitively)', async () => {
  const hits = up.hits;
  const r = await send('GET', `/allow?query=${encodeURIComponent(REGISTERED)}&Query=${encodeURIComponent(SECRET)}`);
  assert.equal(r.status, 400);
  assert.equal(r.code, 'GW_GRAPHQL_BAD_REQUEST');
  assert.equal(up.hits, hits);
});

test('an allow list forwards the registered operation as it checked it, never the client body', async () => {
  // Duplicate keys: the gateway's JSON.parse keeps the last one; a parser keeping the first would run the secret. Refused.
  const dup = await send('POST', '/allow', `{"query":${JSON.stringify(SECRET)},"query":${JSON.stringify(REGISTERED)}}`);
  assert.equal(dup.status, 400);
  assert.equal(dup.got, undefined);
  // Fields GraphQL over HTTP does not define (a service's own persisted ids) are not forwarded.
  const extra = await send(
    'POST',
    '/allow',
    JSON.stringify({ query: REGISTERED, id: sha256Hex(SECRET), documentId: 'x', variables: { a: 1 } }),
  );
  assert.equal(extra.status, 200);
  assert.deepEqual(JSON.parse(extra.got!.body), { query: REGISTERED, variables: { a: 1 } });
  // application/graphql: the body is the document itself, forwarded as it came.
  const raw = await send('POST', '/allow', REGISTERED, 'application/graphql');
  assert.equal(raw.status, 200);
  assert.equal(raw.got?.body, REGISTERED);
  assert.equal(raw.got.contentType, 'application/graphql');
});

test("an allow list's GET forwards its query string re-encoded: a ';' cannot hide a second query from a server that splits on it", async () => {
  const r = await send('GET', `/allow?x=1;query=${encodeURIComponent(SECRET)}&query=${encodeURIComponent(REGISTERED)}`);
  assert.equal(r.status, 200);
  const forwarded = new URL(r.got!.url, 'http://x');
  assert.ok(!forwarded.search.includes(';'), forwarded.search);
  assert.equal(forwarded.searchParams.get('query'), REGISTERED);
  assert.equal(forwarded.searchParams.get('x'), `1;query=${SECRET}`);
});

test("an allow list's GET forwards its variables and operation name as it read them (a variable given twice is refused)", async () => {
  const twice = await send('GET', `/allow?query=${encodeURIComponent(REGISTERED)}&variables=${encodeURIComponent('{"a":1000000,"a":1}')}`);
  assert.equal(twice.status, 400);
  assert.equal(twice.got, undefined);
  const vars = '{ "a" : 1 }';
  const r = await send('GET', `/allow?query=${encodeURIComponent(REGISTERED)}&variables=${encodeURIComponent(vars)}&operationName=`);
  assert.equal(r.status, 200);
  const forwarded = new URL(r.got!.url, 'http://x').searchParams;
  assert.equal(forwarded.get('variables'), '{"a":1}');
  assert.equal(forwarded.has('operationName'), false, 'an empty operationName is none');
});
