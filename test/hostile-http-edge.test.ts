// More hostile HTTP/1.1 over raw sockets (see hostile-http.test.ts for the first set): NUL/CR/LF
// inside header values, obfuscated Transfer-Encoding, bad chunk sizes and chunk framing,
// malformed Content-Length, invalid Host values, CONNECT and HTTP/0.9. And the other direction:
// an upstream with broken framing gives a 502 (or a cut-off response once the status line is
// out), and its connection is never used again — proven with a one-connection pool.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { rawExchange, rawRequest, statuses } from './helpers/raw.js';
import { looksLikeStackTrace, parseResponses, startRawUpstream, type RawUpstream } from './helpers/wire.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let raw: RawUpstream;
let gw: TestGateway;
let uploadsCompleted = 0;

// Broken upstream answers; the upstream keeps each connection open afterwards, so only the
// gateway's choice decides whether it is used again.
const BROKEN: Record<string, string> = {
  'cl-and-te': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'two-lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  'oversized-headers': `HTTP/1.1 200 OK\r\nX-Big: ${'h'.repeat(64 * 1024)}\r\nContent-Length: 2\r\n\r\nok`,
  'obs-fold': 'HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\nContent-Length: 2\r\n\r\nok',
  'nul-in-header': 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok',
  'bad-status-line': 'HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok',
};

before(async () => {
  up = await startUpstream((req, res) => {
    req.resume();
    req.on('end', () => {
      uploadsCompleted++;
      res.end('ok');
    });
  });
  raw = await startRawUpstream((sock, head) => {
    const path = /^[A-Z]+ (\S+)/.exec(head)?.[1] ?? '';
    const mode = path.split('/')[2] ?? '';
    if (BROKEN[mode] !== undefined) {
      sock.write(BROKEN[mode]);
      return;
    }
    if (mode === 'truncated-head') {
      sock.write('HTTP/1.1 200 OK\r\nContent-Le');
      setTimeout(() => sock.end(), 20);
      return;
    }
    if (mode === 'truncated-body') {
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b');
      setTimeout(() => sock.end(), 20);
      return;
    }
    if (mode === 'smuggle') {
      // One response, then a second one nobody asked for: it must never answer the next request.
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled');
      return;
    }
    sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  gw = await startTestGateway({
    services: {
      api: { targets: [{ url: up.url }] },
      // One connection: if a broken one were kept, the next request would have to use it.
      raw: { targets: [{ url: raw.url }], pool: { maxConnections: 1 }, timeouts: { response: '2s', idle: '500ms' } },
    },
    routes: [
      { name: 'raw', match: { paths: ['/raw/*'] }, service: 'raw' },
      { name: 'all', match: { paths: ['/*'] }, service: 'api' },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  await maybeUnset(raw)?.close();
});

const HOST = 'gateway.example';
const FOLLOW = `GET /pipelined HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
const get = (extra: string) => `GET /x HTTP/1.1\r\nHost: ${HOST}\r\n${extra}\r\n`;
const post = (framing: string, body: string) => `POST /upload HTTP/1.1\r\nHost: ${HOST}\r\n${framing}\r\n${body}`;
const TE = 'Transfer-Encoding: chunked\r\n';

const HOSTILE: [string, string][] = [
  ['NUL in a header value', get('X-A: a\0b\r\n')],
  ['CR in a header value', get('X-A: a\rb\r\n')],
  ['bare LF inside a header value', get('X-A: a\nb\r\n')],
  ['bare LF ending the request line', `GET /x HTTP/1.1\nHost: ${HOST}\r\n\r\n`],
  ['Transfer-Encoding: xchunked', post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n')],
  ['Transfer-Encoding: "chunked" (quoted)', post('Transfer-Encoding: "chunked"\r\n', '0\r\n\r\n')],
  ['Transfer-Encoding with a vertical tab', post('Transfer-Encoding:\x0bchunked\r\n', '0\r\n\r\n')],
  ['Transfer-Encoding twice (chunked, then identity)', post(`${TE}Transfer-Encoding: identity\r\n`, '0\r\n\r\n')],
  ['Transfer-Encoding: chunked, chunked', post('Transfer-Encoding: chunked, chunked\r\n', '0\r\n\r\n')],
  ['Transfer-Encoding: identity', post('Transfer-Encoding: identity\r\n', '')],
  ['Transfer-Encoding: gzip (not ending in chunked)', post('Transfer-Encoding: gzip\r\n', '')],
  ['chunk size with 0x prefix', post(TE, '0x5\r\nhello\r\n0\r\n\r\n')],
  ['negative chunk size', post(TE, '-5\r\nhello\r\n0\r\n\r\n')],
  ['overflowing chunk size', post(TE, 'fffffffffffffffffff\r\nhello\r\n0\r\n\r\n')],
  ['chunk size followed by a space', post(TE, '5 \r\nhello\r\n0\r\n\r\n')],
  ['chunk size line ending in bare LF', post(TE, '5\nhello\r\n0\r\n\r\n')],
  ['chunk extension ending in bare LF', post(TE, '5;a=b\nhello\r\n0\r\n\r\n')],
  ['chunk data longer than its size', post(TE, '5\r\nhelloXX\r\n0\r\n\r\n')],
  ['Content-Length: +5', post('Content-Length: +5\r\n', 'hello')],
  ['Content-Length: 0x5', post('Content-Length: 0x5\r\n', 'hello')],
  ['Content-Length: -5', post('Content-Length: -5\r\n', 'hello')],
  ['Content-Length: "5 5"', post('Content-Length: 5 5\r\n', 'hello')],
  ['the same Content-Length twice', post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello')],
  ['Host with a path', `GET /x HTTP/1.1\r\nHost: ${HOST}/evil\r\n\r\n`],
  ['Host with userinfo', `GET /x HTTP/1.1\r\nHost: ${HOST}@evil.example\r\n\r\n`],
  ['absolute-form https naming another host', `GET https://evil.example/x HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`],
  ['a space in the request target', `GET /x y HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`],
  ['HTTP/1.2', `GET /x HTTP/1.2\r\nHost: ${HOST}\r\n\r\n`],
  ['an HTTP/2 preface on an HTTP/1.1 port', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
];

describe('more hostile requests: 400, connection closed, nothing reaches the upstream', () => {
  for (const [name, req] of HOSTILE) {
    test(name, async () => {
      const hits = up.hits;
      const completed = uploadsCompleted;
      const wire = await rawRequest(gw.port, req + FOLLOW);
      assert.deepEqual(statuses(wire), [400], `exactly one 400 on the wire:\n${wire}`);
      const [res] = parseResponses(wire);
      assert.equal(res?.headers.connection?.toLowerCase(), 'close');
      assert.ok(!looksLikeStackTrace(res.body.toString()));
      assert.equal(up.hits, hits, `the upstream was called: ${JSON.stringify(up.seen.at(-1))}`);
      assert.equal(uploadsCompleted, completed);
    });
  }

  for (const [name, req] of [
    ['CONNECT (the gateway is not a forward proxy)', `CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n`],
    ['an HTTP/0.9 request line', 'GET /x\r\n\r\n'],
  ] as const) {
    test(`${name}: the connection is closed, nothing reaches the upstream`, async () => {
      const hits = up.hits;
      const wire = await rawRequest(gw.port, req + FOLLOW);
      assert.ok(!statuses(wire).some((s) => s < 300), wire);
      assert.equal(up.hits, hits);
    });
  }
});

// RFC 9112 §6.1: the gateway implements no transfer coding but chunked. Node's parser lets a list
// ending in chunked through (it frames the body as chunked); what the other codings meant to the
// client is unknown, so the request is refused, and closed so nothing behind it is read.
describe('Transfer-Encoding other than exactly chunked: 501, connection closed, nothing reaches the upstream', () => {
  const UNSUPPORTED: [string, string][] = [
    ['identity, chunked', post('Transfer-Encoding: identity, chunked\r\n', '0\r\n\r\n')],
    ['gzip, chunked', post('Transfer-Encoding: gzip, chunked\r\n', '5\r\nhello\r\n0\r\n\r\n')],
    ['gzip and chunked on two field lines', post('Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n')],
    ['a coding with parameters before chunked', post('Transfer-Encoding: x-custom;p=1, chunked\r\n', '0\r\n\r\n')],
    ['an empty list element before chunked', post('Transfer-Encoding: , chunked\r\n', '0\r\n\r\n')],
    ['a GET with gzip, chunked', `GET /x HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`],
  ];
  for (const [name, req] of UNSUPPORTED) {
    test(name, async () => {
      const hits = up.hits;
      const completed = uploadsCompleted;
      const { wire, closed } = await rawExchange(gw.port, req + FOLLOW);
      assert.deepEqual(statuses(wire), [501], `exactly one 501 on the wire:\n${wire}`);
      const [res] = parseResponses(wire);
      assert.equal(res?.headers.connection?.toLowerCase(), 'close');
      assert.equal((JSON.parse(res.body.toString()) as { error: { code: string } }).error.code, 'GW_UNSUPPORTED_TRANSFER_ENCODING');
      assert.ok(closed, 'the gateway closed the connection');
      assert.equal(up.hits, hits, `the upstream was called: ${JSON.stringify(up.seen.at(-1))}`);
      assert.equal(uploadsCompleted, completed);
    });
  }

  test('control: Transfer-Encoding: chunked in any letter case is served', async () => {
    const completed = uploadsCompleted;
    const wire = await rawRequest(gw.port, post('Transfer-Encoding: Chunked\r\nConnection: close\r\n', '5\r\nhello\r\n0\r\n\r\n'));
    assert.deepEqual(statuses(wire), [200], wire);
    assert.equal(uploadsCompleted, completed + 1);
  });
});

// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty. Node would
// parse it as chunked and keep a keep-alive connection open; the gateway answers once and closes.
describe('Transfer-Encoding in an HTTP/1.0 request: answered at most once, connection closed, nothing reaches the upstream', () => {
  const post10 = (extra: string, body: string) => `POST /upload HTTP/1.0\r\nHost: ${HOST}\r\n${extra}\r\n${body}`;
  const CASES: [string, string][] = [
    ['chunked, keep-alive', post10(`Connection: keep-alive\r\n${TE}`, '5\r\nhello\r\n0\r\n\r\n')],
    ['chunked, no keep-alive', post10(TE, '5\r\nhello\r\n0\r\n\r\n')],
    ['gzip, chunked, keep-alive', post10('Connection: keep-alive\r\nTransfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n')],
    ['a GET with chunked, keep-alive', `GET /x HTTP/1.0\r\nHost: ${HOST}\r\nConnection: keep-alive\r\n${TE}\r\n0\r\n\r\n`],
  ];
  for (const [name, req] of CASES) {
    test(name, async () => {
      const hits = up.hits;
      const completed = uploadsCompleted;
      const { wire, closed } = await rawExchange(gw.port, req + FOLLOW);
      assert.deepEqual(statuses(wire), [400], `exactly one 400 on the wire:\n${wire}`);
      const [res] = parseResponses(wire);
      assert.ok(!looksLikeStackTrace(res!.body.toString()));
      assert.ok(closed, 'the gateway closed the connection');
      assert.equal(up.hits, hits, `the upstream was called: ${JSON.stringify(up.seen.at(-1))}`);
      assert.equal(uploadsCompleted, completed);
    });
  }
});

describe('an upstream with broken framing', () => {
  /** The raw upstream connection that received `path`. */
  const connectionOf = (path: string) => raw.received.findIndex((r) => r.includes(`GET ${path} `));

  test('control: a healthy upstream connection is reused', async () => {
    for (const p of ['/raw/ok/1', '/raw/ok/2']) {
      const res = await request(`${gw.url}${p}`);
      assert.equal(await res.body.text(), 'ok');
    }
    assert.equal(connectionOf('/raw/ok/1'), connectionOf('/raw/ok/2'));
  });

  for (const mode of [...Object.keys(BROKEN), 'truncated-head']) {
    test(`${mode} → 502 GW_UPSTREAM_ERROR, and the upstream connection is not reused`, async () => {
      const res = await request(`${gw.url}/raw/${mode}`);
      assert.equal(res.statusCode, 502);
      const text = await res.body.text();
      assert.ok(!looksLikeStackTrace(text), text);
      assert.ok(
        ['GW_UPSTREAM_ERROR', 'GW_UPSTREAM_UNAVAILABLE'].includes((JSON.parse(text) as { error: { code: string } }).error.code),
        text,
      );
      const next = await request(`${gw.url}/raw/ok/after-${mode}`);
      assert.equal(next.statusCode, 200);
      assert.equal(await next.body.text(), 'ok');
      const broken = connectionOf(`/raw/${mode}`);
      assert.ok(broken >= 0);
      assert.notEqual(connectionOf(`/raw/ok/after-${mode}`), broken, 'the next request went over the broken connection');
    });
  }

  test('a truncated body after the status line: the client sees it cut short, never complete; the connection is not reused', async () => {
    const wire = await rawRequest(gw.port, `GET /raw/truncated-body HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 5000);
    const [res] = parseResponses(wire);
    assert.equal(res?.status, 200, wire);
    assert.equal(res.complete, false, wire);
    const next = await request(`${gw.url}/raw/ok/after-truncated`);
    assert.equal(await next.body.text(), 'ok');
    assert.notEqual(connectionOf('/raw/ok/after-truncated'), connectionOf('/raw/truncated-body'));
  });

  test('bytes after a complete response never answer the next request', async () => {
    const first = await request(`${gw.url}/raw/smuggle`);
    assert.equal(await first.body.text(), 'hello');
    const next = await request(`${gw.url}/raw/ok/after-smuggle`);
    assert.equal(next.statusCode, 200);
    assert.equal(await next.body.text(), 'ok', 'the smuggled response answered another request');
    assert.notEqual(connectionOf('/raw/ok/after-smuggle'), connectionOf('/raw/smuggle'));
  });
});
