// The edge policies over real sockets: cors (preflights never reach the upstream), ip-restriction
// (on the client address after trusted-proxy resolution), request-size-limit (Content-Length up
// front, chunked bodies while they stream) and bot-detection. A counting upstream proves what got through.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, echo, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { rawRequest, statuses } from './helpers/raw.js';
import { parseResponses } from './helpers/wire.js';
import { sleep } from './helpers/child.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let gw: TestGateway;
/** Request bodies the upstream read to the end, with their sizes. */
const uploads: number[] = [];

before(async () => {
  up = await startUpstream((req, res) => {
    if (req.url?.startsWith('/limit/')) {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        uploads.push(n);
        res.end(String(n));
      });
      return;
    }
    if (req.url?.startsWith('/cors/')) {
      // A careless service that reflects every origin with credentials.
      res.setHeader('access-control-allow-origin', req.headers.origin ?? '*');
      res.setHeader('access-control-allow-credentials', 'true');
    }
    echo(req, res);
  });
  gw = await startTestGateway({
    trustedProxies: ['127.0.0.1'],
    services: { api: { targets: [{ url: up.url }] } },
    routes: [
      {
        name: 'cors',
        match: { paths: ['/cors/*'], methods: ['GET', 'PUT'] },
        service: 'api',
        policies: [
          {
            type: 'cors',
            origins: ['https://app.example.com', 'https://*.example.org'],
            methods: ['GET', 'PUT'],
            headers: ['content-type', 'x-token'],
            exposedHeaders: ['x-total'],
            credentials: true,
            maxAge: '10m',
          },
        ],
      },
      {
        name: 'cors-auth',
        match: { paths: ['/cors-auth/*'] },
        service: 'api',
        policies: [{ type: 'cors', origins: ['https://app.example.com'], credentials: true }, { type: 'key-auth' }],
      },
      {
        name: 'ip',
        match: { paths: ['/ip/*'] },
        service: 'api',
        policies: [{ type: 'ip-restriction', allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.6.6.0/24'] }],
      },
      {
        name: 'ip-direct',
        match: { paths: ['/ip-direct/*'] },
        service: 'api',
        policies: [{ type: 'ip-restriction', deny: ['127.0.0.0/8'] }],
      },
      { name: 'limit', match: { paths: ['/limit/*'] }, service: 'api', policies: [{ type: 'request-size-limit', maxBody: '1kb' }] },
      { name: 'bots', match: { paths: ['/bots/*'] }, service: 'api', policies: [{ type: 'bot-detection', deny: ['^BadCrawler'] }] },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

async function errorCode(res: Awaited<ReturnType<typeof request>>): Promise<string> {
  return ((await res.body.json()) as { error: { code: string } }).error.code;
}

describe('cors', () => {
  test('a refusal by a later policy (401) still carries the allow headers, so the page can read it', async () => {
    const hits = up.hits;
    const res = await request(`${gw.url}/cors-auth/items`, { headers: { origin: 'https://app.example.com' } });
    assert.equal(res.statusCode, 401);
    assert.equal(await errorCode(res), 'GW_UNAUTHORIZED');
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers.vary, 'Origin');
    const other = await request(`${gw.url}/cors-auth/items`, { headers: { origin: 'https://evil.example' } });
    assert.equal(other.statusCode, 401);
    await other.body.dump();
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    assert.equal(up.hits, hits);
  });

  const preflight = (origin: string, method: string, headers?: string) =>
    request(`${gw.url}/cors/items`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) },
    });

  test('a preflight from an allowed origin is answered by the gateway (route without OPTIONS), never forwarded', async () => {
    const hits = up.hits;
    const res = await preflight('https://app.example.com', 'PUT', 'content-type');
    assert.equal(res.statusCode, 204);
    await res.body.dump();
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, PUT');
    assert.equal(res.headers['access-control-allow-headers'], 'content-type, x-token');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.match(String(res.headers.vary), /Origin/);
    assert.equal(up.hits, hits);
  });

  test('wildcard subdomain origins are allowed', async () => {
    const res = await preflight('https://tenant.eu.example.org', 'GET');
    assert.equal(res.statusCode, 204);
    await res.body.dump();
    assert.equal(res.headers['access-control-allow-origin'], 'https://tenant.eu.example.org');
  });

  test('preflights from other origins, Origin: null, or for other methods/headers → 403 GW_CORS_FORBIDDEN, never forwarded', async () => {
    const hits = up.hits;
    for (const [origin, method, headers] of [
      ['https://evil.example', 'GET', undefined],
      ['https://example.org', 'GET', undefined],
      ['https://app.example.com.evil.example', 'GET', undefined],
      ['null', 'GET', undefined],
      ['https://app.example.com', 'PUT', 'x-admin'],
    ] as const) {
      const res = await preflight(origin, method, headers);
      assert.equal(res.statusCode, 403, `${origin} ${method} ${headers}`);
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.equal(await errorCode(res), 'GW_CORS_FORBIDDEN');
    }
    assert.equal(up.hits, hits);
  });

  test('actual requests: an allowed origin gets the CORS headers; another origin never gets its origin reflected', async () => {
    const ok = await request(`${gw.url}/cors/items`, { headers: { origin: 'https://app.example.com' } });
    await ok.body.dump();
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    assert.equal(ok.headers['access-control-expose-headers'], 'x-total');
    assert.match(String(ok.headers.vary), /Origin/);

    for (const origin of ['https://evil.example', 'null']) {
      const res = await request(`${gw.url}/cors/items`, { headers: { origin } });
      await res.body.dump();
      assert.equal(res.statusCode, 200, 'forwarded: the browser, not the gateway, blocks the read');
      assert.equal(res.headers['access-control-allow-origin'], undefined, `${origin} reflected`);
      assert.equal(res.headers['access-control-allow-credentials'], undefined);
      assert.match(String(res.headers.vary), /Origin/);
    }
  });

  test('a preflight for a method the route does not take → 405 with Allow, no CORS headers, never forwarded', async () => {
    const hits = up.hits;
    const res = await preflight('https://app.example.com', 'DELETE');
    assert.equal(res.statusCode, 405);
    assert.equal(res.headers.allow, 'GET, PUT');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.equal(await errorCode(res), 'GW_METHOD_NOT_ALLOWED');
    assert.equal(up.hits, hits);
  });

  test('a method the route does not take still gets 405 with Allow when it is not a preflight', async () => {
    const res = await request(`${gw.url}/cors/items`, { method: 'OPTIONS' });
    assert.equal(res.statusCode, 405);
    assert.equal(res.headers.allow, 'GET, PUT');
    assert.equal(await errorCode(res), 'GW_METHOD_NOT_ALLOWED');
  });
});

describe('ip-restriction', () => {
  const from = (path: string, xff?: string) => request(`${gw.url}${path}`, { headers: xff ? { 'x-forwarded-for': xff } : {} });

  test('the client address after trusted-proxy resolution decides, IPv4 and IPv6', async () => {
    for (const [xff, status] of [
      ['10.1.2.3', 200],
      ['2001:db8::42', 200],
      ['10.6.6.7', 403],
      ['192.168.0.1', 403],
      ['2001:db9::1', 403],
      ['10.1.2.3, 192.168.0.1', 403], // the rightmost untrusted hop is the client
    ] as const) {
      const hits = up.hits;
      const res = await from('/ip/x', xff);
      assert.equal(res.statusCode, status, xff);
      if (status === 403) {
        assert.equal(await errorCode(res), 'GW_IP_FORBIDDEN');
        assert.equal(up.hits, hits, `${xff} reached the upstream`);
      } else {
        await res.body.dump();
        assert.equal(up.hits, hits + 1);
      }
    }
  });

  test('the socket address is used when there is no forwarding header', async () => {
    const res = await from('/ip-direct/x');
    assert.equal(res.statusCode, 403);
    assert.equal(await errorCode(res), 'GW_IP_FORBIDDEN');
    const allowed = await from('/ip/x'); // 127.0.0.1 is not in the allow list
    assert.equal(allowed.statusCode, 403);
    await allowed.body.dump();
  });
});

describe('request-size-limit', () => {
  const HEAD = (len: string) => `POST /limit/up HTTP/1.1\r\nHost: gw.example\r\n${len}\r\n`;

  test('Content-Length over the limit → 413 up front; the upstream is never called', async () => {
    const hits = up.hits;
    const wire = await rawRequest(
      gw.port,
      HEAD('Content-Length: 2000\r\n') + 'x'.repeat(2000) + 'GET /limit/pipelined HTTP/1.1\r\nHost: gw.example\r\n\r\n',
    );
    assert.deepEqual(statuses(wire), [413], wire);
    const [res] = parseResponses(wire);
    assert.equal(res?.status, 413, wire);
    assert.equal(res.headers.connection, 'close');
    assert.equal((JSON.parse(res.body.toString()) as { error: { code: string } }).error.code, 'GW_PAYLOAD_TOO_LARGE');
    assert.equal(up.hits, hits);
  });

  test('bodies at the limit pass whole, Content-Length or chunked', async () => {
    const a = await request(`${gw.url}/limit/a`, { method: 'POST', body: 'x'.repeat(1024) });
    assert.equal(a.statusCode, 200);
    assert.equal(await a.body.text(), '1024');
    const wire = await rawRequest(
      gw.port,
      HEAD('Transfer-Encoding: chunked\r\nConnection: close\r\n') +
        '200\r\n' +
        'y'.repeat(512) +
        '\r\n200\r\n' +
        'y'.repeat(512) +
        '\r\n0\r\n\r\n',
    );
    const [res] = parseResponses(wire);
    assert.equal(res?.status, 200, wire);
    assert.equal(res.body.toString(), '1024');
  });

  test('a chunked body over the limit → 413 while streaming; the upstream never gets a whole body', async () => {
    const done = uploads.length;
    const chunk = '190\r\n' + 'z'.repeat(400) + '\r\n'; // 400 bytes a chunk; the 3rd passes 1 KiB
    const wire = await rawRequest(
      gw.port,
      HEAD('Transfer-Encoding: chunked\r\n') + chunk.repeat(6) + '0\r\n\r\n' + 'GET /limit/pipelined HTTP/1.1\r\nHost: gw.example\r\n\r\n',
    );
    assert.deepEqual(statuses(wire), [413], wire);
    const [res] = parseResponses(wire);
    assert.equal((JSON.parse(res!.body.toString()) as { error: { code: string } }).error.code, 'GW_PAYLOAD_TOO_LARGE');
    assert.equal(res!.headers.connection, 'close');
    await sleep(100);
    assert.equal(uploads.length, done, `the upstream read a whole body: ${uploads.slice(done).join()}`);
  });
});

describe('bot-detection', () => {
  test('built-in and configured agents → 403 GW_BOT_FORBIDDEN, never forwarded; others pass', async () => {
    for (const ua of ['sqlmap/1.8.4#stable (https://sqlmap.org)', 'Mozilla/5.0 (compatible; Nmap Scripting Engine)', 'BadCrawler/1.0']) {
      const hits = up.hits;
      const res = await request(`${gw.url}/bots/x`, { headers: { 'user-agent': ua } });
      assert.equal(res.statusCode, 403, ua);
      assert.equal(await errorCode(res), 'GW_BOT_FORBIDDEN');
      assert.equal(up.hits, hits);
    }
    const ok = await request(`${gw.url}/bots/x`, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0' } });
    assert.equal(ok.statusCode, 200);
    await ok.body.dump();
  });
});
