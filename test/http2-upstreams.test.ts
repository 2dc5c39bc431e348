// Services over HTTP/2 (`protocol: h2c`, and `h2` over TLS in a child gateway that trusts the test
// CA): requests from either kind of client multiplexed over one connection, and the machinery
// around a call — active health checks probing in HTTP/2, retries past a dead target, the
// circuit breaker — working as it does for HTTP/1.1.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type Http2Server } from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startChild, tempDir, waitFor, type GatewayChild, type TempDir } from './helpers/child.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { closedPort } from './helpers/wire.js';
import { http2Client } from './helpers/clients.js';

interface H2Upstream {
  url: string;
  sessions: number;
  /** Requests seen: path, HTTP version, user agent. */
  seen: { path: string; version: string; agent: string }[];
  server: Http2Server;
}

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** Closes an HTTP/2 server now: its sessions too (the health checks' agent keeps one open). */
function closing(server: Http2Server | http2.Http2SecureServer): () => Promise<void> {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  return () =>
    new Promise<void>((r) => {
      server.close(() => r());
      for (const s of sessions) s.destroy();
    });
}

/** An h2c-only server (node's http2.createServer: HTTP/1.1 is refused). */
async function h2cUpstream(name: string, status: (path: string) => number = () => 200): Promise<H2Upstream> {
  const server = http2.createServer((req, res) => {
    up.seen.push({ path: req.url, version: req.httpVersion, agent: String(req.headers['user-agent']) });
    res.writeHead(status(req.url), { 'content-type': 'text/plain' });
    res.end(`${name} ${req.url}`);
  });
  const up = { sessions: 0, seen: [], server } as unknown as H2Upstream;
  server.on('session', () => up.sessions++);
  closers.push(closing(server));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}

let a: H2Upstream;
let b: H2Upstream;
let sick: H2Upstream;
let failing: H2Upstream;
let gw: TestGateway;
const client = http2Client();

before(async () => {
  a = await h2cUpstream('a');
  b = await h2cUpstream('b');
  sick = await h2cUpstream('sick', (p) => (p === '/health' ? 503 : 200));
  failing = await h2cUpstream('failing', () => 500);
  const dead = `http://127.0.0.1:${await closedPort()}`;
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: {
      multiplexed: { protocol: 'h2c', targets: [{ url: a.url }] },
      checked: {
        protocol: 'h2c',
        targets: [{ url: b.url }, { url: sick.url }],
        healthCheck: { active: { path: '/health', interval: '100ms', timeout: '1s', unhealthyThreshold: 1, healthyThreshold: 1 } },
      },
      retried: {
        protocol: 'h2c',
        targets: [{ url: dead }, { url: a.url }],
        retries: { attempts: 2, on: ['connect-error'], budget: { minRetries: 50 } },
      },
      guarded: { protocol: 'h2c', targets: [{ url: failing.url }], circuitBreaker: { consecutiveFailures: 3, openDuration: '1m' } },
    },
    routes: [
      { name: 'multiplexed', match: { paths: ['/m/*'] }, service: 'multiplexed' },
      { name: 'checked', match: { paths: ['/checked/*'] }, service: 'checked' },
      { name: 'retried', match: { paths: ['/retried/*'] }, service: 'retried' },
      { name: 'guarded', match: { paths: ['/guarded/*'] }, service: 'guarded' },
    ],
  });
  closers.push(
    () => gw.stop(),
    () => client.close(),
  );
});

test('h2c service: HTTP/1.1 and HTTP/2 clients alike, many requests at once over one connection', async () => {
  const h1 = await request(`${gw.url}/m/one`);
  assert.equal(await h1.body.text(), 'a /m/one');
  const all = await Promise.all(Array.from({ length: 60 }, (_, i) => client.request(`${gw.url}/m/${i}`)));
  assert.deepEqual(
    await Promise.all(all.map((r) => r.body.text())),
    all.map((_, i) => `a /m/${i}`),
  );
  assert.ok(a.seen.every((s) => s.version === '2.0'));
  assert.equal(a.sessions, 1, 'one connection carried them all');
});

test('active health checks probe in HTTP/2: the target failing them gets no traffic', async () => {
  await waitFor('a probe to each target', () =>
    b.seen.some((s) => s.path === '/health') && sick.seen.some((s) => s.path === '/health') ? true : undefined,
  );
  const probe = sick.seen.find((s) => s.path === '/health')!;
  assert.equal(probe.version, '2.0');
  assert.equal(probe.agent, 'gatehouse-health-check');
  // Once the failed probe is counted, every request goes to the healthy target.
  await waitFor('the sick target out of rotation', async () => {
    const texts = await Promise.all(Array.from({ length: 6 }, async () => (await request(`${gw.url}/checked/x`)).body.text()));
    return texts.every((t) => t === 'b /checked/x') ? true : undefined;
  });
});

test('retries: a dead h2c target is a connect-error, the retry reaches the live one', async () => {
  for (let i = 0; i < 6; i++) {
    const res = await client.request(`${gw.url}/retried/${i}`);
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), `a /retried/${i}`);
  }
});

test('the circuit breaker opens on an h2c service that keeps failing', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await client.request(`${gw.url}/guarded/x`)).statusCode, 500);
  const seen = failing.seen.length;
  const res = await client.request(`${gw.url}/guarded/x`);
  assert.equal(res.statusCode, 503);
  assert.match(await res.body.text(), /GW_CIRCUIT_OPEN/);
  assert.equal(failing.seen.length, seen, 'the open breaker kept the request from the service');
});

test('h2 service over TLS (ALPN h2, the CA trusted through NODE_EXTRA_CA_CERTS); an HTTP/1.1-only TLS target is a 502', async () => {
  const pki: TestPki = makePki();
  const dir: TempDir = await tempDir();
  closers.push(
    () => pki.cleanup(),
    () => dir.remove(),
  );
  const secure = http2.createSecureServer({ cert: pki.server.cert, key: pki.server.key }, (req, res) => {
    res.end(`over ${(req.socket as { alpnProtocol?: string }).alpnProtocol ?? '?'} ${req.httpVersion}`);
  });
  closers.push(closing(secure));
  await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
  const h1only = https.createServer({ cert: pki.server.cert, key: pki.server.key, ALPNProtocols: ['http/1.1'] }, (_req, res) =>
    res.end('h1'),
  );
  await new Promise<void>((r) => h1only.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        h1only.close(() => r());
        h1only.closeAllConnections();
      }),
  );
  const port = (s: { address(): unknown }) => (s.address() as AddressInfo).port;
  const config = await dir.file(
    'gw.yaml',
    [
      'listen: [{ port: 0, host: 127.0.0.1 }]',
      'admin: { port: 0, host: 127.0.0.1 }',
      'accessLog: false',
      'log: { level: warn }',
      'services:',
      `  secure: { protocol: h2, targets: [{ url: "https://127.0.0.1:${port(secure)}" }] }`,
      `  h1only: { protocol: h2, targets: [{ url: "https://127.0.0.1:${port(h1only)}" }] }`,
      'routes:',
      '  - { name: secure, match: { paths: ["/s/*"] }, service: secure }',
      '  - { name: h1only, match: { paths: ["/h1/*"] }, service: h1only }',
      '',
    ].join('\n'),
  );
  const child: GatewayChild = await startChild(config, { env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.ca.certPath } });
  closers.push(() => child.kill());
  const ok = await request(`${child.url}/s/x`);
  assert.equal(await ok.body.text(), 'over h2 2.0');
  const refused = await request(`${child.url}/h1/x`);
  assert.equal(refused.statusCode, 502);
  await refused.body.text();
});
