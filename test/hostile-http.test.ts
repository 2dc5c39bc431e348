// Hostile HTTP/1.1 over raw sockets: request targets that try to smuggle a different path or host
// past routing, ambiguous framing, and pipelining behind a refused request. Every refusal is a 400
// that never reaches the upstream and closes the connection; nothing pipelined behind it is served.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startUpstream, echo, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { rawExchange, rawRequest, statuses } from './helpers/raw.js';
import { looksLikeStackTrace, parseResponses } from './helpers/wire.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let gw: TestGateway;
let uploadsCompleted = 0;

before(async () => {
  up = await startUpstream((req, res) => {
    if (req.url === '/api/stream') {
      // A chunked body, a little every 20 ms for a second.
      res.writeHead(200, { 'content-type': 'text/plain' });
      let n = 0;
      const t = setInterval(() => {
        if (++n === 50) {
          clearInterval(t);
          res.end('end\n');
        } else res.write('x'.repeat(100));
      }, 20);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (req.url === '/api/upload') {
      req.resume();
      req.on('end', () => {
        uploadsCompleted++;
        echo(req, res);
      });
      return;
    }
    if (req.url === '/api/delay') {
      const t = setTimeout(() => echo(req, res), 300);
      res.on('close', () => clearTimeout(t));
      return;
    }
    echo(req, res);
  });
  gw = await startTestGateway({
    services: { api: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'api', match: { paths: ['/api/*'] }, service: 'api' },
      { name: 'all', match: { paths: ['/*'] }, service: 'api' },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

const HOST = 'gateway.example';
/** A valid request pipelined behind a hostile one: it must never be served. */
const FOLLOW = `GET /api/pipelined HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;

const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\n${extra}\r\n`;

/** Hostile requests, each a complete request head (and body where it has one). */
const HOSTILE: [string, string][] = [
  ['encoded slash %2F', get('/api/a%2Fb')],
  ['encoded slash %2f lowercase', get('/api/..%2f..%2fetc/passwd')],
  ['encoded backslash %5C', get('/api/a%5Cb')],
  ['literal backslash', get('/api/a\\b')],
  ['literal backslash traversal', get('/api/..\\..\\etc')],
  ['encoded NUL %00', get('/api/a%00b')],
  ['encoded control byte %0A', get('/api/a%0Ab')],
  ['encoded dot segments /%2e%2e/', get('/api/%2e%2e/admin')],
  ['encoded dot segments /%2E%2E/ uppercase', get('/api/%2E%2E/admin')],
  ['half-encoded dot segment /.%2e/', get('/api/.%2e/admin')],
  ['encoded single dot segment /%2e/', get('/api/%2e/admin')],
  ['double-encoded dots %252e%252e', get('/api/%252e%252e/admin')],
  // Tomcat and Spring strip ";params" before resolving dot segments: "..;" climbs like "..".
  ['dot segment with a path parameter /..;/', get('/api/v1/..;/admin')],
  ['encoded dot segment with a path parameter /%2e%2e;/', get('/api/v1/%2e%2e;/admin')],
  ['half-encoded dot segment with parameters /.%2E;x=1/', get('/api/v1/.%2E;x=1/admin')],
  ['single dot segment with a path parameter /.;/', get('/api/v1/.;/admin')],
  ['dot segment with an encoded semicolon /..%3B/', get('/api/v1/..%3B/admin')],
  // Any ";" in the path (server.allowSemicolonInPath off): Java servers drop ";params", so
  // /api/admin;x/users would route as "admin;x" here and be served as /api/admin/users there.
  ['a path parameter on a segment /admin;x/', get('/api/admin;x/users')],
  ['an encoded semicolon %3B in a segment', get('/api/admin%3Bx/users')],
  ['an encoded semicolon %3b lowercase', get('/api/admin%3bx/users')],
  ['a semicolon ending the path', get('/api/admin;')],
  ['a semicolon in the first segment', get('/api;x/admin/users')],
  ['a double-encoded semicolon %253B', get('/api/admin%253Bx/users')],
  ['double-encoded slash %252f', get('/api/a%252fb')],
  ['double-encoded backslash %255c', get('/api/a%255cb')],
  ['double-encoded NUL %2500', get('/api/a%2500b')],
  ['invalid percent escape %zz', get('/api/%zz')],
  ['truncated percent escape', get('/api/abc%2')],
  ['percent-encoded invalid UTF-8', get('/api/%ff%fe')],
  ['dot segments above the root', get('/../etc/passwd')],
  ['encoded dot segments above the root', get('/%2e%2e/etc/passwd')],
  ['absolute-form naming another host', `GET http://evil.example/x HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`],
  ['absolute-form with userinfo', `GET http://${HOST}@evil.example/x HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`],
  ['absolute-form without a Host header (HTTP/1.0)', 'GET http://evil.example/x HTTP/1.0\r\n\r\n'],
  ['asterisk-form', `OPTIONS * HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`],
  ['duplicate Host headers', `GET /api/x HTTP/1.1\r\nHost: ${HOST}\r\nHost: evil.example\r\n\r\n`],
  ['duplicate identical Host headers', `GET /api/x HTTP/1.1\r\nHost: ${HOST}\r\nHost: ${HOST}\r\n\r\n`],
  ['missing Host header (HTTP/1.1)', 'GET /api/x HTTP/1.1\r\n\r\n'],
  [
    'Content-Length with Transfer-Encoding',
    `POST /api/x HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  ],
  [
    'Transfer-Encoding with Content-Length',
    `POST /api/x HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
  ],
  ['two different Content-Length values', `POST /api/x HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`],
  ['a Content-Length list', `POST /api/x HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5, 6\r\n\r\nhello!`],
  [
    'Transfer-Encoding not ending in chunked',
    `POST /api/x HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
  ],
  ['obs-fold header continuation', `GET /api/x HTTP/1.1\r\nHost: ${HOST}\r\nX-Folded: a\r\n  b\r\n\r\n`],
  ['space before the header colon', `GET /api/x HTTP/1.1\r\nHost : ${HOST}\r\n\r\n`],
  ['a bare LF line ending', `GET /api/x HTTP/1.1\nHost: ${HOST}\n\n`],
];

describe('hostile requests are refused with 400 and never reach the upstream', () => {
  for (const [name, req] of HOSTILE) {
    test(name, async () => {
      const hits = up.hits;
      const wire = await rawRequest(gw.port, req + FOLLOW);
      assert.deepEqual(statuses(wire), [400], `exactly one 400 on the wire:\n${wire}`);
      assert.equal(up.hits, hits, `the upstream was called: ${JSON.stringify(up.seen.at(-1))}`);
      const [res] = parseResponses(wire);
      assert.ok(res);
      assert.equal(res.headers.connection?.toLowerCase(), 'close');
      if (res.body.length) {
        const text = res.body.toString();
        assert.ok(!looksLikeStackTrace(text), text);
        const body = JSON.parse(text) as { error: { code: string } };
        assert.ok(['GW_BAD_REQUEST', 'GW_BAD_PATH'].includes(body.error.code), text);
      }
    });
  }
});

describe('";" in the path: a protected /api/admin/* beside a public /api/*', () => {
  const routes = [
    { name: 'admin', match: { paths: ['/api/admin/*'] }, service: 'api', policies: [{ type: 'ip-restriction', deny: ['127.0.0.0/8'] }] },
    { name: 'public', match: { paths: ['/api/*'] }, service: 'api' },
  ];
  let strict: TestGateway;
  let matrix: TestGateway;
  before(async () => {
    strict = await startTestGateway({ services: { api: { targets: [{ url: up.url }] } }, routes });
    matrix = await startTestGateway({ services: { api: { targets: [{ url: up.url }] } }, routes, server: { allowSemicolonInPath: true } });
  });
  after(async () => {
    await maybeUnset(strict)?.stop();
    await maybeUnset(matrix)?.stop();
  });

  test('the admin route itself is refused by ip-restriction', async () => {
    const hits = up.hits;
    const wire = await rawRequest(strict.port, get('/api/admin/users', 'Connection: close\r\n'));
    assert.deepEqual(statuses(wire), [403], wire);
    assert.equal(up.hits, hits);
  });

  for (const target of ['/api/admin;x/users', '/api/admin%3Bx/users', '/api/admin%3bx/users']) {
    test(`by default ${target} → 400 GW_BAD_PATH, never reaching the upstream`, async () => {
      const hits = up.hits;
      const { wire, closed } = await rawExchange(strict.port, get(target) + FOLLOW);
      assert.deepEqual(statuses(wire), [400], wire);
      assert.equal(up.hits, hits, `the upstream was called: ${JSON.stringify(up.seen.at(-1))}`);
      const [res] = parseResponses(wire);
      assert.equal(res!.headers.connection?.toLowerCase(), 'close');
      assert.ok(closed, 'the connection was closed');
      assert.equal((JSON.parse(res!.body.toString()) as { error: { code: string } }).error.code, 'GW_BAD_PATH');
    });
  }

  const FORWARDED: [string, string][] = [
    ['/api/admin;x/users', '/api/admin;x/users'],
    ['/api/admin%3Bx/users', '/api/admin%3Bx/users'],
    ['/api/admin%3bx/users', '/api/admin%3Bx/users'],
  ];
  for (const [target, expected] of FORWARDED) {
    test(`with server.allowSemicolonInPath ${target} reaches the upstream as ${expected}`, async () => {
      const hits = up.hits;
      const wire = await rawRequest(matrix.port, get(target, 'Connection: close\r\n'));
      assert.equal(parseResponses(wire)[0]?.status, 200, wire);
      assert.equal(up.hits, hits + 1);
      assert.equal(up.seen.at(-1)!.url, expected);
    });
  }

  test('with server.allowSemicolonInPath a dot segment with parameters is still refused', async () => {
    const hits = up.hits;
    for (const target of ['/api/x/..;/admin/users', '/api/x/..%3B/admin/users']) {
      const wire = await rawRequest(matrix.port, get(target) + FOLLOW);
      assert.deepEqual(statuses(wire), [400], wire);
    }
    assert.equal(up.hits, hits);
  });
});

describe('oversized requests', () => {
  test('a request target beyond the header size limit → 431, never reaching the upstream', async () => {
    const hits = up.hits;
    const wire = await rawRequest(gw.port, get('/api/' + 'a'.repeat(20_000)) + FOLLOW);
    assert.deepEqual(statuses(wire), [431], wire.slice(0, 300));
    assert.equal(up.hits, hits);
    const [res] = parseResponses(wire);
    assert.equal((JSON.parse(res!.body.toString()) as { error: { code: string } }).error.code, 'GW_BAD_REQUEST');
  });

  test('headers beyond the size limit → 431, never reaching the upstream', async () => {
    const hits = up.hits;
    const wire = await rawRequest(gw.port, get('/api/x', `X-Big: ${'b'.repeat(20_000)}\r\n`) + FOLLOW);
    assert.deepEqual(statuses(wire), [431], wire.slice(0, 300));
    assert.equal(up.hits, hits);
  });
});

describe('paths that are normalised, not refused', () => {
  const CASES: [string, string, string][] = [
    // [name, request target, what the upstream must see]
    ['plain dot segments are resolved', '/api/v1/../v1/users', '/api/v1/users'],
    ['single dot segments are dropped', '/api/./v1/./users', '/api/v1/users'],
    ['repeated slashes are merged', '//api//v1/users', '/api/v1/users'],
    ['a trailing ".." keeps the directory', '/api/v1/users/..', '/api/v1/'],
    ['unreserved characters are decoded once', '/api/%41%42%43', '/api/ABC'],
    ['characters that need it stay encoded', '/api/a%20b', '/api/a%20b'],
    ['a literal percent is re-encoded, not decoded twice', '/api/100%25', '/api/100%25'],
    ['the query is passed on untouched', '/api/x?next=/../%2F&a=%zz', '/api/x?next=/../%2F&a=%zz'],
  ];
  for (const [name, target, expected] of CASES) {
    test(`${name}: ${target} → ${expected}`, async () => {
      const hits = up.hits;
      const wire = await rawRequest(gw.port, get(target, 'Connection: close\r\n'));
      const [res] = parseResponses(wire);
      assert.equal(res?.status, 200, wire);
      assert.equal(up.hits, hits + 1);
      const seen = up.seen.at(-1)!;
      assert.equal(seen.url, expected);
      assert.equal(seen.headers.host, `127.0.0.1:${up.port}`);
    });
  }

  test('//evil.example/x never changes the upstream host', async () => {
    const hits = up.hits;
    const wire = await rawRequest(gw.port, get('//evil.example/x', 'Connection: close\r\n'));
    const [res] = parseResponses(wire);
    assert.equal(res?.status, 200, wire);
    assert.equal(up.hits, hits + 1, 'the configured upstream got it');
    const seen = up.seen.at(-1)!;
    assert.equal(seen.url, '/evil.example/x');
    assert.equal(seen.headers.host, `127.0.0.1:${up.port}`);
  });

  test('absolute-form naming the Host itself is accepted', async () => {
    const hits = up.hits;
    const wire = await rawRequest(gw.port, `GET http://${HOST}/api/abs?q=1 HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
    assert.equal(parseResponses(wire)[0]?.status, 200, wire);
    assert.equal(up.hits, hits + 1);
    assert.equal(up.seen.at(-1)!.url, '/api/abs?q=1');
  });
});

describe('pipelining', () => {
  test('valid pipelined requests are all served, in order', async () => {
    const hits = up.hits;
    const wire = await rawRequest(gw.port, get('/api/one') + get('/api/two') + get('/api/three', 'Connection: close\r\n'));
    const all = parseResponses(wire);
    assert.deepEqual(
      all.map((r) => r.status),
      [200, 200, 200],
    );
    assert.deepEqual(
      all.map((r) => (JSON.parse(r.body.toString()) as { url: string }).url),
      ['/api/one', '/api/two', '/api/three'],
    );
    assert.equal(up.hits, hits + 3);
  });

  test('a refused request in the middle stops everything behind it', async () => {
    const hits = up.hits;
    const wire = await rawRequest(gw.port, get('/api/first') + get('/api/%2e%2e/admin') + get('/api/third') + get('/api/fourth'));
    assert.deepEqual(statuses(wire), [200, 400]);
    assert.equal(up.hits, hits + 1);
    assert.equal(up.seen.at(-1)!.url, '/api/first');
  });

  test('a refused request with a body: the body is never read as a request', async () => {
    const hits = up.hits;
    // The "body" is itself a request; it must not be parsed and served.
    const smuggled = get('/api/smuggled');
    const wire = await rawRequest(
      gw.port,
      `POST /api/a%2Fb HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}` + FOLLOW,
    );
    assert.deepEqual(statuses(wire), [400]);
    assert.equal(up.hits, hits);
  });

  test('a HEAD response has no body, so a request pipelined behind it is framed correctly', async () => {
    const hits = up.hits;
    const wire = await rawRequest(
      gw.port,
      `HEAD /api/head HTTP/1.1\r\nHost: ${HOST}\r\n\r\n` + get('/api/after-head', 'Connection: close\r\n'),
    );
    assert.deepEqual(statuses(wire), [200, 200], wire);
    const afterHead = wire.slice(wire.indexOf('\r\n\r\n') + 4);
    assert.match(afterHead, /^HTTP\/1\.1 200 /, 'the HEAD response is followed directly by the next response');
    assert.equal(up.hits, hits + 2);
    assert.equal(up.seen.at(-2)!.method, 'HEAD');
  });

  test('a 404 does not close a keep-alive connection', async () => {
    const hits = up.hits;
    const gw2 = await startTestGateway({
      services: { api: { targets: [{ url: up.url }] } },
      routes: [{ name: 'api', match: { paths: ['/api/*'] }, service: 'api' }],
    });
    try {
      const wire = await rawRequest(gw2.port, get('/nope') + get('/api/after-404', 'Connection: close\r\n'));
      assert.deepEqual(statuses(wire), [404, 200]);
      assert.equal(up.hits, hits + 1);
    } finally {
      await gw2.stop();
    }
  });
});

describe('a malformed body', () => {
  test('an invalid chunk size → 400, and the upstream never gets a complete request', async () => {
    const completed = up.seen.length;
    const wire = await rawRequest(
      gw.port,
      `POST /api/upload HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nbad\r\n0\r\n\r\n` + FOLLOW,
    );
    assert.deepEqual(statuses(wire), [400], wire);
    const [res] = parseResponses(wire);
    assert.equal((JSON.parse(res!.body.toString()) as { error: { code: string } }).error.code, 'GW_BAD_REQUEST');
    // The upstream may have seen the head (the body streams), but never a whole request, and
    // never the pipelined one.
    await new Promise((r) => setTimeout(r, 100));
    for (const s of up.seen.slice(completed)) assert.notEqual(s.url, '/api/pipelined');
    assert.equal(uploadsCompleted, 0);
  });
});

describe('a parse error behind a request that is still being answered', () => {
  /** Sends `first`, waits for `waitForBytes` bytes of answer (0: none), sends `then`, reads until close. */
  function exchange(first: string, waitForBytes: number, then: string): Promise<string> {
    return new Promise((resolve) => {
      const sock = net.connect(gw.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      let got = 0;
      let sent = false;
      const timer = setTimeout(() => sock.destroy(), 5000);
      sock.on('error', () => {});
      sock.on('connect', () => {
        sock.write(first);
        if (waitForBytes === 0) {
          sent = true;
          sock.write(then);
        }
      });
      sock.on('data', (c: Buffer) => {
        chunks.push(c);
        got += c.length;
        if (!sent && got >= waitForBytes) {
          sent = true;
          sock.write(then);
        }
      });
      sock.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('latin1'));
      });
    });
  }

  test('is never written into the middle of a response body', async () => {
    const wire = await exchange(get('/api/stream'), 300, 'GARBAGE\x01 NOT HTTP\r\n\r\n');
    assert.deepEqual(statuses(wire), [200], wire);
    assert.ok(!wire.includes('GW_BAD_REQUEST'), `a 400 was injected into the body:\n${wire}`);
  });

  test('is never answered in place of the valid request before it', async () => {
    const hits = up.hits;
    const wire = await exchange(get('/api/delay'), 0, 'GARBAGE\x01 NOT HTTP\r\n\r\n');
    // The client cannot tell a 400 here from the answer to its valid request: better no answer.
    assert.ok(!statuses(wire).includes(400), `the valid request was answered 400:\n${wire}`);
    assert.ok(up.hits <= hits + 1);
  });
});
