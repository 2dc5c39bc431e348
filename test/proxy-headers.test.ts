// Header handling over real sockets: hop-by-hop headers both ways, forwarding headers from
// untrusted and trusted peers, Via, X-Request-Id, Host, and the headers / request-termination
// policies.
import { test, after, before, describe } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, echo, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { rawRequest } from './helpers/raw.js';
import { parseResponses, startRawUpstream, type RawUpstream } from './helpers/wire.js';
import { maybeUnset } from './helpers/hooks.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let up: Upstream;
let never: Upstream;
let hopUp: RawUpstream;
const seenBodies = new Map<object, Buffer>();
let gw: TestGateway;
let trustedGw: TestGateway;

before(async () => {
  up = await startUpstream((req, res) => {
    if (req.url === '/echo/body') {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        seenBodies.set(up.seen.at(-1)!, Buffer.concat(parts));
        echo(req, res);
      });
      return;
    }
    if (req.url?.startsWith('/policy/')) {
      res.setHeader('x-powered-by', 'upstream-framework');
      res.setHeader('x-upstream-keep', 'kept');
      res.setHeader('x-resp-override', 'from-upstream');
    }
    echo(req, res);
  });
  never = await startUpstream();
  // Exact bytes (node's server would refuse some of these): a response full of hop-by-hop headers,
  // and one the upstream's Connection header names.
  hopUp = await startRawUpstream((sock, head) => {
    if (head.startsWith('GET /early ')) {
      // An interim 103 before the final response.
      sock.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal');
      return;
    }
    sock.write(
      'HTTP/1.1 200 OK\r\n' +
        'Connection: keep-alive, X-Up-Hop\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'Proxy-Authenticate: Basic realm="up"\r\n' +
        'Trailer: X-Up-Trailer\r\n' +
        'Upgrade: h2c\r\n' +
        'TE: trailers\r\n' +
        'X-Up-Hop: secret\r\n' +
        'X-Up-Keep: yes\r\n' +
        'Via: 1.1 upstream-cache\r\n' +
        'X-Request-Id: made-up-by-upstream\r\n' +
        'Content-Type: text/plain\r\n' +
        'Content-Length: 3\r\n' +
        '\r\n' +
        'hop',
    );
  });
  const services = {
    main: { targets: [{ url: up.url }] },
    never: { targets: [{ url: never.url }] },
    hop: { targets: [{ url: hopUp.url }] },
  };
  const routes = [
    { name: 'hop', match: { paths: ['/echo/hop', '/early'] }, service: 'hop' },
    { name: 'echo', match: { paths: ['/echo', '/echo/*'] }, service: 'main' },
    { name: 'preserve', match: { paths: ['/preserve'] }, service: 'main', preserveHost: true },
    {
      name: 'policy',
      match: { paths: ['/policy/*'] },
      service: 'main',
      policies: [
        {
          type: 'headers',
          request: { set: { 'X-Added': 'yes', 'x-override': 'gateway' }, remove: ['X-Secret'] },
          response: { set: { 'x-resp-added': 'r', 'X-Resp-Override': 'gateway' }, remove: ['X-Powered-By'] },
        },
      ],
    },
    {
      name: 'maintenance',
      match: { paths: ['/maint/*'] },
      service: 'never',
      policies: [{ type: 'request-termination', status: 503, body: 'down for maintenance', headers: { 'retry-after': '120' } }],
    },
    {
      name: 'retired',
      match: { paths: ['/retired/*'] },
      service: 'never',
      policies: [{ type: 'request-termination', status: 410, code: 'GW_ROUTE_NOT_FOUND', message: 'v0 is retired' }],
    },
  ];
  gw = await startTestGateway({ services, routes });
  trustedGw = await startTestGateway({ services, routes, trustedProxies: ['127.0.0.1'] });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(trustedGw)?.stop();
  await maybeUnset(up)?.close();
  await maybeUnset(never)?.close();
  await maybeUnset(hopUp)?.close();
});

function lastSeen() {
  const s = up.seen.at(-1);
  assert.ok(s, 'the upstream saw a request');
  return s;
}

function rawNames(raw: string[]): string[] {
  return raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

describe('hop-by-hop headers', () => {
  test('request: hop-by-hop headers and those the client Connection header names are not forwarded', async () => {
    const hits = up.hits;
    const raw = await rawRequest(
      gw.port,
      'GET /echo/req HTTP/1.1\r\n' +
        'Host: client.example\r\n' +
        'Connection: close, X-Hop-One, x-hop-two\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'TE: trailers\r\n' +
        'Trailer: X-Checksum\r\n' +
        'Upgrade: websocket\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'Proxy-Authorization: Basic Zm9vOmJhcg==\r\n' +
        'X-Hop-One: 1\r\n' +
        'X-HOP-TWO: 2\r\n' +
        'X-Forwarded-Port: 443\r\n' +
        'X-Forwarded-Prefix: /evil\r\n' +
        'X-Real-IP: 6.6.6.6\r\n' +
        'X-End-To-End: kept\r\n' +
        'Authorization: Bearer end-to-end\r\n' +
        '\r\n',
    );
    const [res] = parseResponses(raw);
    assert.equal(res?.status, 200, raw);
    assert.equal(up.hits, hits + 1);
    const seen = lastSeen();
    const names = rawNames(seen.rawHeaders);
    for (const hop of [
      'keep-alive',
      'te',
      'trailer',
      'upgrade',
      'proxy-connection',
      'proxy-authorization',
      'x-hop-one',
      'x-hop-two',
      'x-forwarded-port',
      'x-forwarded-prefix',
      'x-real-ip',
    ]) {
      assert.ok(!names.includes(hop), `${hop} must not reach the upstream (saw ${names.join(', ')})`);
    }
    // The upstream connection has its own Connection header (set by the gateway's client),
    // never the client's value.
    const conn = seen.headers.connection;
    assert.ok(conn === undefined || /^(keep-alive|close)$/i.test(conn), `upstream Connection: ${conn}`);
    assert.equal(seen.headers['x-end-to-end'], 'kept');
    assert.equal(seen.headers.authorization, 'Bearer end-to-end');
  });

  test('tracing off: traceparent and tracestate pass through as received, unless Connection names them', async () => {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const send = (extra: string) =>
      rawRequest(
        gw.port,
        `GET /echo/req HTTP/1.1\r\nHost: client.example\r\nConnection: close${extra}\r\ntraceparent: ${tp}\r\ntracestate: vendor=abc\r\n\r\n`,
      );
    let [res] = parseResponses(await send(''));
    assert.equal(res?.status, 200);
    let seen = lastSeen();
    assert.equal(seen.headers.traceparent, tp);
    assert.equal(seen.headers.tracestate, 'vendor=abc');
    [res] = parseResponses(await send(', traceparent, TraceState'));
    assert.equal(res?.status, 200);
    seen = lastSeen();
    assert.equal(seen.headers.traceparent, undefined, 'named hop-by-hop: not forwarded');
    assert.equal(seen.headers.tracestate, undefined);
  });

  test('a client Connection header cannot strip the headers the gateway sets', async () => {
    const raw = await rawRequest(
      gw.port,
      'GET /echo/conn HTTP/1.1\r\nHost: client.example\r\n' +
        'Connection: close, X-Forwarded-For, Forwarded, Via, X-Request-Id, Host, X-Forwarded-Proto\r\n' +
        'X-Request-Id: keep-me\r\n\r\n',
    );
    assert.equal(parseResponses(raw)[0]?.status, 200, raw);
    const h = lastSeen().headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h.forwarded, 'for=127.0.0.1;host="client.example";proto=http');
    assert.equal(h.via, '1.1 gatehouse');
    assert.equal(h['x-request-id'], 'keep-me');
    assert.equal(h.host, `127.0.0.1:${up.port}`);
  });

  test('a Connection header naming Content-Length does not unframe the request body', async () => {
    const raw = await rawRequest(
      gw.port,
      'POST /echo/body HTTP/1.1\r\nHost: client.example\r\nConnection: close, Content-Length\r\nContent-Length: 11\r\n\r\nhello world',
    );
    assert.equal(parseResponses(raw)[0]?.status, 200, raw);
    const seen = lastSeen();
    assert.equal(seen.method, 'POST');
    assert.equal(seenBodies.get(seen)?.toString(), 'hello world');
  });

  test('response: hop-by-hop headers and those the upstream Connection header names are not passed on', async () => {
    const raw = await rawRequest(gw.port, 'GET /echo/hop HTTP/1.1\r\nHost: client.example\r\nConnection: close\r\n\r\n');
    const [res] = parseResponses(raw);
    assert.ok(res, raw);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hop');
    const names = res.rawHeaders.map(([n]) => n.toLowerCase());
    for (const hop of ['keep-alive', 'proxy-connection', 'proxy-authenticate', 'trailer', 'upgrade', 'te', 'x-up-hop']) {
      assert.ok(!names.includes(hop), `${hop} must not reach the client (saw ${names.join(', ')})`);
    }
    assert.ok(!/x-up-hop/i.test(res.headers.connection ?? ''), `client Connection: ${res.headers.connection}`);
    assert.equal(res.headers['x-up-keep'], 'yes');
    assert.equal(res.headers['content-type'], 'text/plain');
    // Via is appended on the way back too; the upstream's X-Request-Id is replaced by the gateway's.
    assert.equal(res.headers.via, '1.1 upstream-cache, 1.1 gatehouse');
    assert.match(res.headers['x-request-id'] ?? '', UUID);
    assert.equal(names.filter((n) => n === 'x-request-id').length, 1);
  });
});

describe('interim responses', () => {
  test('Expect: 100-continue is answered by the gateway and not forwarded', async () => {
    const hits = up.hits;
    const wire = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(gw.port, '127.0.0.1');
      let text = '';
      let sentBody = false;
      const timer = setTimeout(() => sock.destroy(), 3000);
      sock.on('error', reject);
      sock.on('connect', () => {
        sock.write(
          'POST /echo/expect HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
        );
      });
      sock.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        // The body goes only after the 100: a gateway that waited for it would time out here.
        if (!sentBody && /^HTTP\/1\.1 100 /.test(text) && text.includes('\r\n\r\n')) {
          sentBody = true;
          sock.write('hello');
        }
      });
      sock.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
    });
    const all = parseResponses(wire);
    assert.deepEqual(
      all.map((r) => r.status),
      [100, 200],
      wire,
    );
    assert.equal(up.hits, hits + 1);
    const seen = lastSeen();
    assert.ok(!rawNames(seen.rawHeaders).includes('expect'), 'Expect must not be forwarded');
    assert.equal(seen.method, 'POST');
  });

  test('an upstream 103 is not relayed; the final response is', async () => {
    const raw = await rawRequest(gw.port, 'GET /early HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n');
    const all = parseResponses(raw);
    assert.deepEqual(
      all.map((r) => r.status),
      [200],
      raw,
    );
    assert.equal(all[0]!.body.toString(), 'final');
  });
});

describe('forwarding headers', () => {
  const spoofed = {
    host: 'client.example:8443',
    'x-forwarded-for': '1.2.3.4',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'spoofed.example',
    forwarded: 'for=1.2.3.4;proto=https;host=spoofed.example',
    via: '1.0 client-proxy',
  };

  test('from an untrusted peer, incoming forwarding headers are discarded and replaced', async () => {
    const res = await request(`${gw.url}/echo/fwd`, { headers: spoofed });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const h = lastSeen().headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'client.example:8443');
    assert.equal(h.forwarded, 'for=127.0.0.1;host="client.example:8443";proto=http');
    assert.equal(h.via, '1.0 client-proxy, 1.1 gatehouse');
  });

  test('from a trusted proxy, incoming values are kept and the peer appended', async () => {
    const res = await request(`${trustedGw.url}/echo/fwd`, { headers: spoofed });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const h = lastSeen().headers;
    assert.equal(h['x-forwarded-for'], '1.2.3.4, 127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-host'], 'spoofed.example');
    assert.equal(h.forwarded, 'for=1.2.3.4;proto=https;host=spoofed.example, for=127.0.0.1;host="client.example:8443";proto=http');
    assert.equal(h.via, '1.0 client-proxy, 1.1 gatehouse');
  });

  test('from a trusted proxy, repeated X-Forwarded-For lines are joined in order before the peer', async () => {
    const raw = await rawRequest(
      trustedGw.port,
      'GET /echo/fwd HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\nConnection: close\r\n\r\n',
    );
    assert.equal(parseResponses(raw)[0]?.status, 200, raw);
    assert.equal(lastSeen().headers['x-forwarded-for'], '1.2.3.4, 5.6.7.8, 127.0.0.1');
  });

  test('without incoming forwarding headers the gateway sets its own', async () => {
    const res = await request(`${trustedGw.url}/echo/plain`);
    await res.body.dump();
    const h = lastSeen().headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], `127.0.0.1:${trustedGw.port}`);
    assert.equal(h.forwarded, `for=127.0.0.1;host="127.0.0.1:${trustedGw.port}";proto=http`);
    assert.equal(h.via, '1.1 gatehouse');
  });
});

describe('X-Request-Id', () => {
  test('a valid incoming id is kept, sent upstream and returned', async () => {
    const id = 'abc-123.DEF:x@y+z/=_';
    const res = await request(`${gw.url}/echo/id`, { headers: { 'x-request-id': id } });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    assert.equal(res.headers['x-request-id'], id);
    assert.equal(lastSeen().headers['x-request-id'], id);
  });

  test('a valid incoming id is also used in gateway error bodies', async () => {
    const res = await request(`${gw.url}/nowhere`, { headers: { 'x-request-id': 'trace-42' } });
    assert.equal(res.statusCode, 404);
    const body = (await res.body.json()) as { error: { requestId: string } };
    assert.equal(res.headers['x-request-id'], 'trace-42');
    assert.equal(body.error.requestId, 'trace-42');
  });

  test('an id of exactly 200 characters is kept', async () => {
    const id = 'b'.repeat(200);
    const res = await request(`${gw.url}/echo/id`, { headers: { 'x-request-id': id } });
    await res.body.dump();
    assert.equal(res.headers['x-request-id'], id);
    assert.equal(lastSeen().headers['x-request-id'], id);
  });

  for (const [what, bad] of [
    ['spaces', 'has some spaces'],
    ['300 characters', 'a'.repeat(300)],
    ['201 characters', 'a'.repeat(201)],
    ['markup', '<script>alert(1)</script>'],
    ['an empty value', ''],
  ] as const) {
    test(`an invalid incoming id (${what}) is replaced by a generated UUID`, async () => {
      const hits = up.hits;
      const raw = await rawRequest(
        gw.port,
        `GET /echo/id HTTP/1.1\r\nHost: a.example\r\nX-Request-Id: ${bad}\r\nConnection: close\r\n\r\n`,
      );
      const [res] = parseResponses(raw);
      assert.equal(res?.status, 200, raw);
      assert.equal(up.hits, hits + 1);
      const id = res.headers['x-request-id'] ?? '';
      assert.match(id, UUID);
      assert.notEqual(id, bad);
      const seen = lastSeen();
      assert.equal(seen.headers['x-request-id'], id);
      assert.equal(rawNames(seen.rawHeaders).filter((n) => n === 'x-request-id').length, 1);
    });
  }

  test('every request without an id gets a different one', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const res = await request(`${gw.url}/echo/id`);
      await res.body.dump();
      ids.add(String(res.headers['x-request-id']));
    }
    assert.equal(ids.size, 5);
  });
});

describe('Host', () => {
  test("the upstream sees the target's host:port by default", async () => {
    const res = await request(`${gw.url}/echo/host`, { headers: { host: 'client.example:8443' } });
    await res.body.dump();
    const seen = lastSeen();
    assert.equal(seen.headers.host, `127.0.0.1:${up.port}`);
    assert.equal(rawNames(seen.rawHeaders).filter((n) => n === 'host').length, 1);
  });

  test("with preserveHost the upstream sees the client's Host", async () => {
    const res = await request(`${gw.url}/preserve`, { headers: { host: 'client.example:8443' } });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const seen = lastSeen();
    assert.equal(seen.url, '/preserve');
    assert.equal(seen.headers.host, 'client.example:8443');
    assert.equal(rawNames(seen.rawHeaders).filter((n) => n === 'host').length, 1);
  });
});

describe('policies', () => {
  test('headers policy sets and removes request and response headers', async () => {
    const res = await request(`${gw.url}/policy/x`, {
      headers: { 'x-secret': 'do-not-forward', 'x-override': 'from-client', 'x-other': 'kept' },
    });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const seen = lastSeen();
    assert.equal(seen.url, '/policy/x');
    assert.equal(seen.headers['x-added'], 'yes');
    assert.equal(seen.headers['x-override'], 'gateway');
    assert.equal(seen.headers['x-other'], 'kept');
    assert.ok(!('x-secret' in seen.headers), 'x-secret removed');
    assert.equal(rawNames(seen.rawHeaders).filter((n) => n === 'x-override').length, 1);

    assert.equal(res.headers['x-resp-added'], 'r');
    assert.equal(res.headers['x-resp-override'], 'gateway');
    assert.equal(res.headers['x-upstream-keep'], 'kept');
    assert.ok(!('x-powered-by' in res.headers), 'x-powered-by removed');
  });

  test('request-termination answers at the gateway without calling the upstream', async () => {
    const res = await request(`${gw.url}/maint/anything`, { method: 'POST', body: 'payload' });
    assert.equal(res.statusCode, 503);
    assert.equal(await res.body.text(), 'down for maintenance');
    assert.equal(res.headers['retry-after'], '120');
    assert.match(String(res.headers['x-request-id']), UUID);
    assert.equal(never.hits, 0);
  });

  test('request-termination with a code answers with the standard JSON error', async () => {
    const res = await request(`${gw.url}/retired/v0/users`, { headers: { 'x-request-id': 'rt-1' } });
    assert.equal(res.statusCode, 410);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = (await res.body.json()) as { error: { code: string; message: string; requestId: string } };
    assert.deepEqual(body, { error: { code: 'GW_ROUTE_NOT_FOUND', message: 'v0 is retired', requestId: 'rt-1' } });
    assert.equal(never.hits, 0);
  });
});
