// redirectHttps (issue 17): a plain listener that sends every request to HTTPS with 308 (before
// routing), and a route that does so only on plain listeners — over TLS, or behind a trusted
// proxy that terminated TLS, it serves. Path and query are kept; a request without Host is 400.
// An upgrade request (WebSocket or another protocol's) is redirected like any other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { makeCerts, type CertFactory } from './helpers/tls-certs.js';
import { httpsGet } from './helpers/tls-client.js';
import { rawExchange, rawRequest, statuses } from './helpers/raw.js';
import { parseResponses } from './helpers/wire.js';
import { maybeUnset } from './helpers/hooks.js';

let certs: CertFactory;
let up: Upstream;
let gw: TestGateway;
let redirectPort: number, plainPort: number, tlsPort: number;

before(async () => {
  certs = makeCerts();
  const leaf = certs.leaf('shop', { dns: ['shop.example'] });
  up = await startUpstream();
  gw = await startTestGateway({
    listen: [
      { port: 0, host: '127.0.0.1', redirectHttps: { port: 8443 } },
      { port: 0, host: '127.0.0.1' },
      { port: 0, host: '127.0.0.1', tls: { cert: leaf.certPath, key: leaf.keyPath } },
    ],
    trustedProxies: ['10.9.9.9'],
    services: { up: { targets: [{ url: up.url }] } },
    routes: [
      { name: 'account', match: { paths: ['/account/*'] }, service: 'up', redirectHttps: true },
      { name: 'open', match: { paths: ['/open/*'] }, service: 'up' },
      { name: 'chat', match: { paths: ['/chat/*'] }, service: 'up', websocket: true },
    ],
  });
  [redirectPort, plainPort, tlsPort] = gw.listeners.map((l) => l.port) as [number, number, number];
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  maybeUnset(certs)?.cleanup();
});

async function get(port: number, path: string, headers: Record<string, string>, method = 'GET', body?: string) {
  const res = await request(`http://127.0.0.1:${port}${path}`, { method, headers, body });
  await res.body.dump();
  return { status: res.statusCode, location: res.headers.location };
}

test('a listener with redirectHttps answers every request 308 to https on its port, before routing, method and body kept', async () => {
  const hits = up.hits;
  assert.deepEqual(await get(redirectPort, '/open/a?x=1&y=2', { host: 'shop.example:8080' }), {
    status: 308,
    location: 'https://shop.example:8443/open/a?x=1&y=2',
  });
  assert.deepEqual(await get(redirectPort, '/no/route/here', { host: 'shop.example' }), {
    status: 308,
    location: 'https://shop.example:8443/no/route/here',
  });
  assert.equal((await get(redirectPort, '/open/a', { host: 'shop.example' }, 'POST', 'payload')).status, 308);
  assert.equal(up.hits, hits, 'nothing reached the service');
});

test('an upgrade on a listener with redirectHttps gets the same 308 on its socket, which then closes; nothing is proxied', async () => {
  const hits = up.hits;
  const upgrades = [
    // A WebSocket handshake on a route that proxies them, with a frame sent behind it.
    [
      '/chat/room?x=1',
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n',
    ],
    // Another protocol's upgrade (served as a plain request where node hands every upgrade over).
    ['/open/a', 'Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n'],
  ];
  for (const [path, fields] of upgrades) {
    const frame = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x69 ^ 1, 0x21 ^ 2]);
    const { wire, closed } = await rawExchange(
      redirectPort,
      Buffer.concat([Buffer.from(`GET ${path!} HTTP/1.1\r\nHost: shop.example\r\n${fields!}\r\n`, 'latin1'), frame]),
    );
    assert.deepEqual(statuses(wire), [308], wire);
    assert.equal(parseResponses(wire)[0]!.headers.location, `https://shop.example:8443${path!}`);
    assert.ok(closed, 'the gateway closed the connection');
  }
  // A route's redirectHttps holds for an upgrade too.
  const routed = await rawRequest(
    plainPort,
    'GET /account/ws HTTP/1.1\r\nHost: shop.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  assert.deepEqual(statuses(routed), [308], routed);
  assert.equal(up.hits, hits, 'nothing reached the service');
});

test('a request without Host cannot be redirected: 400', async () => {
  const raw = await rawRequest(redirectPort, 'GET /open/a HTTP/1.0\r\n\r\n');
  assert.deepEqual(statuses(raw), [400]);
  assert.match(raw, /GW_BAD_REQUEST/);
  assert.match(raw, /needs a Host header/);
});

test('a route with redirectHttps redirects on a plain listener only; other routes serve', async () => {
  assert.deepEqual(await get(plainPort, '/account/me?tab=2', { host: 'shop.example:8080' }), {
    status: 308,
    location: 'https://shop.example/account/me?tab=2',
  });
  assert.equal((await get(plainPort, '/open/a', { host: 'shop.example' })).status, 200);
  const hits = up.hits;
  const tls = await httpsGet(tlsPort, '/account/me', { servername: 'shop.example' });
  assert.equal(tls.status, 200);
  assert.equal(up.hits, hits + 1);
});

test('behind a trusted proxy that terminated TLS (X-Forwarded-Proto: https) the route serves; from anyone else the header is ignored', async () => {
  // The peer is 127.0.0.1, not the trusted 10.9.9.9: the header is not believed.
  assert.equal((await get(plainPort, '/account/me', { host: 'shop.example', 'x-forwarded-proto': 'https' })).status, 308);
  const behind = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', redirectHttps: true }],
    trustedProxies: ['127.0.0.1'],
    services: { up: { targets: [{ url: up.url }] } },
    routes: [{ name: 'account', match: { paths: ['/account/*'] }, service: 'up', redirectHttps: true }],
  });
  try {
    assert.equal((await get(behind.port, '/account/me', { host: 'shop.example', 'x-forwarded-proto': 'https' })).status, 200);
    assert.equal((await get(behind.port, '/account/me', { host: 'shop.example', 'x-forwarded-proto': 'http' })).status, 308);
  } finally {
    await behind.stop();
  }
});
