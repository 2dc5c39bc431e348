// HTTP/2 on the listeners: h2 by ALPN beside HTTP/1.1 on TLS (mTLS included), h2c with prior
// knowledge beside HTTP/1.1 on one plain port (the connection preface decides, however its bytes
// arrive), a plain listener without http2 answering the preface as the malformed HTTP/1.1 it is,
// Debian's nghttp on both, and sessions closed with GOAWAY when idle or when the gateway drains.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { makePki, type Pair, type TestPki } from './helpers/certs.js';
import { rawExchange } from './helpers/raw.js';
import { PREFACE } from './helpers/h2-raw.js';
import { maybeUnset } from './helpers/hooks.js';
import { waitFor } from './helpers/child.js';

const run = promisify(execFile);
let pki: TestPki;
let alice: Pair;
let up: Upstream;
let gw: TestGateway;
let h2c: string;
let tls: string;
let plainOnly: number;
let hanging = 0;
let hangingClosed = 0;

before(async () => {
  pki = makePki();
  alice = pki.client('alice', 'alice.example');
  up = await startUpstream((req, res) => {
    if (req.url === '/slow') return void setTimeout(() => res.end('slow done'), 300);
    if (req.url === '/hang') {
      hanging++;
      return void res.once('close', () => hangingClosed++);
    }
    res.end(`${req.method ?? ''} ${req.url ?? ''} via ${String(req.headers['x-forwarded-proto'])}`);
  });
  gw = await startTestGateway({
    listen: [
      { port: 0, host: '127.0.0.1', http2: true },
      { port: 0, host: '127.0.0.1', tls: { cert: pki.server.certPath, key: pki.server.keyPath, clientCa: pki.ca.certPath } },
      { port: 0, host: '127.0.0.1' },
    ],
    server: { keepAliveTimeout: '300ms' },
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'alice', credentials: [{ type: 'mtls', subject: 'alice.example' }] }],
    routes: [
      { name: 'secure', match: { paths: ['/secure/*'] }, service: 'up', policies: [{ type: 'mtls' }] },
      { name: 'all', match: { paths: ['/*'] }, service: 'up' },
    ],
  });
  h2c = gw.listeners[0]!.url;
  tls = `https://localhost:${gw.listeners[1]!.port}`;
  plainOnly = gw.listeners[2]!.port;
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  maybeUnset(pki)?.cleanup();
});

function connect(origin: string, opts: SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(origin, opts);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function get(s: ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = s.request({ ':path': path });
    let status = 0;
    let body = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c: Buffer) => (body += c.toString()));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
  });
}

test('TLS: h2 is chosen by ALPN, and HTTP/1.1 is still offered', async () => {
  const s = await connect(tls, { ca: pki.ca.cert });
  assert.equal(s.alpnProtocol, 'h2');
  assert.deepEqual(await get(s, '/a'), { status: 200, body: 'GET /a via https' });
  s.close();
  const agent = new Agent({ connect: { ca: pki.ca.cert } });
  const res = await request(`${tls}/b`, { dispatcher: agent });
  assert.equal(await res.body.text(), 'GET /b via https');
  assert.equal(res.headers.connection, 'keep-alive', 'an HTTP/1.1 response');
  await agent.close();
});

test('TLS: mtls over h2 reads the client certificate of the connection', async () => {
  const withCert = await connect(tls, { ca: pki.ca.cert, cert: alice.cert, key: alice.key });
  assert.equal((await get(withCert, '/secure/x')).status, 200);
  withCert.close();
  const without = await connect(tls, { ca: pki.ca.cert });
  assert.equal((await get(without, '/secure/x')).status, 401);
  assert.equal((await get(without, '/open')).status, 200, 'the 401 ended its stream only');
  without.close();
});

test('plain with http2: h2c with prior knowledge and HTTP/1.1 on the same port', async () => {
  const s = await connect(h2c);
  assert.deepEqual(await get(s, '/c'), { status: 200, body: 'GET /c via http' });
  s.close();
  const res = await request(`${h2c}/d`);
  assert.equal(await res.body.text(), 'GET /d via http');
});

/** Writes `parts` one by one on a new connection (a pause between them) and reads until it closes. */
function trickle(port: number, parts: (string | Buffer)[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    sock.on('data', (c: Buffer) => got.push(c));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(got).toString('latin1')));
    sock.on('connect', () => {
      void (async () => {
        for (const p of parts) {
          sock.write(p);
          await new Promise((r) => setTimeout(r, 30));
        }
      })();
    });
  });
}

test('plain with http2: HTTP/1.1 arriving a byte at a time, or starting like the preface, is still HTTP/1.1', async () => {
  const port = gw.listeners[0]!.port;
  const slow = await trickle(port, ['G', 'ET /e HTTP/1.1\r\nHo', 'st: a\r\nConnection: close\r\n\r\n']);
  assert.match(slow, /^HTTP\/1\.1 200/);
  assert.ok(slow.endsWith('GET /e via http'), slow);
  // "PRI * HTTP/1.1" shares the preface's first bytes and is not it: HTTP/1.1's parser refuses it.
  const almost = await trickle(port, ['PRI * HT', 'TP/1.1\r\nHost: a\r\n\r\n']);
  assert.match(almost, /^HTTP\/1\.1 400/);
  // The preface split into pieces is still HTTP/2: the server's SETTINGS frame comes back.
  const h2 = await trickle(port, [PREFACE.subarray(0, 7), PREFACE.subarray(7)]); // closed when idle (keepAliveTimeout)
  assert.equal(h2.charCodeAt(3), 0x04, 'a SETTINGS frame first');
});

test('plain without http2: the preface is answered as malformed HTTP/1.1 (400) and the connection closed', async () => {
  const r = await rawExchange(plainOnly, PREFACE);
  assert.match(r.wire, /^HTTP\/1\.1 400 /);
  assert.equal(r.closed, true);
});

test('h2c: a client that closes its connection ends its streams, and their upstream calls', async () => {
  // http.Server's sockets are half-open; an h2c session handed one must still end with the client's FIN.
  const port = Number(new URL(h2c).port);
  const socket = net.connect(port, '127.0.0.1');
  const s = await connect(h2c, { createConnection: () => socket });
  const stream = s.request({ ':path': '/hang' });
  stream.on('error', () => {});
  await waitFor('the request upstream', () => hanging === 1);
  socket.end(); // FIN only: the client sends nothing more
  await waitFor('the upstream call to be cancelled', () => hangingClosed === 1);
  s.destroy();
});

test("Debian's nghttp fetches over h2c and over TLS", async () => {
  const plain = await run('nghttp', ['-v', `${h2c}/n1`], { timeout: 10_000 });
  assert.match(plain.stdout, /:status: 200/);
  assert.match(plain.stdout, /GET \/n1 via http/);
  const secure = await run('nghttp', ['-v', `${tls}/n2`], { timeout: 10_000 });
  assert.match(secure.stdout, /:status: 200/);
  assert.match(secure.stdout, /GET \/n2 via https/);
});

test('an idle session is closed with GOAWAY after keepAliveTimeout', async () => {
  const s = await connect(h2c);
  assert.equal((await get(s, '/f')).status, 200);
  const goaway = await new Promise<number>((r) => s.once('goaway', (code: number) => r(code)));
  assert.equal(goaway, http2.constants.NGHTTP2_NO_ERROR);
  s.destroy();
});

test('drain: GOAWAY to every session, the stream under way finishes, new connections are refused', async () => {
  // A gateway of its own: this one stops.
  const own = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { up: { targets: [{ url: up.url }] } },
    routes: [{ name: 'all', match: { paths: ['/*'] }, service: 'up' }],
  });
  const s = await connect(own.url);
  const goaway = new Promise<void>((r) => s.once('goaway', () => r()));
  const slow = get(s, '/slow');
  await new Promise((r) => setTimeout(r, 50));
  const stopped = own.stop();
  await goaway;
  assert.deepEqual(await slow, { status: 200, body: 'slow done' });
  await stopped;
  await assert.rejects(connect(own.url));
  s.destroy();
});
