// WebSockets over HTTP/2 (RFC 8441) through a real gateway: a node:http2 client opens extended
// CONNECT streams on h2 (TLS, ALPN) and h2c listeners and speaks RFC 6455 frames on them
// (helpers/h2-websocket.ts) to a `ws` echo service that sees an ordinary HTTP/1.1 handshake.
// The SETTINGS advertise the extended CONNECT (node and Debian's nghttp read them), the handshake
// runs the route's policies and caps, refusals end their stream only, and the connection's life —
// idle timeout, the access-log line, shutdown — is the HTTP/1.1 one's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { ClientHttp2Session, SecureClientSessionOptions } from 'node:http2';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startWsUpstream, type WsUpstream } from './helpers/ws-upstream.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { tempDir, waitFor, within, type TempDir } from './helpers/child.js';
import { h2Session, openWebSocket, StreamSocket } from './helpers/h2-websocket.js';
import { maybeUnset } from './helpers/hooks.js';
import { ErrorCode, FrameType, RawH2, headerBlock, headers as headersFrame } from './helpers/h2-raw.js';

const run = promisify(execFile);
let pki: TestPki;
let up: WsUpstream;
let gw: TestGateway;
let dir: TempDir;
let logFile: string;
let h2c: string;
let tls: string;
let redirecting: string;
let tlsOpts: SecureClientSessionOptions;
const sessions: ClientHttp2Session[] = [];

const ALICE = 'alice-key-0123456789';

before(async () => {
  pki = makePki();
  tlsOpts = { ca: pki.ca.cert };
  up = await startWsUpstream();
  dir = await tempDir();
  logFile = join(dir.path, 'access.log');
  gw = await startTestGateway({
    listen: [
      { port: 0, host: '127.0.0.1', http2: true },
      { port: 0, host: '127.0.0.1', tls: { cert: pki.server.certPath, key: pki.server.keyPath } },
      { port: 0, host: '127.0.0.1', http2: true, redirectHttps: true },
    ],
    accessLog: { path: logFile },
    services: { svc: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: ALICE }] }],
    routes: [
      { name: 'echo', match: { paths: ['/echo', '/echo/*', '/deny/*', '/bad-accept/*'] }, service: 'svc', websocket: true },
      { name: 'keyed', match: { paths: ['/keyed/*'] }, service: 'svc', websocket: true, policies: [{ type: 'key-auth' }] },
      { name: 'idle', match: { paths: ['/idle/*'] }, service: 'svc', websocket: { idleTimeout: '300ms' } },
      { name: 'one', match: { paths: ['/one/*'] }, service: 'svc', websocket: { maxConnections: 1 } },
      { name: 'get-only', match: { paths: ['/get-only/*'], methods: ['GET'] }, service: 'svc', websocket: true },
      { name: 'plain', match: { paths: ['/plain/*'] }, service: 'svc' },
    ],
  });
  h2c = gw.listeners[0]!.url;
  tls = `https://localhost:${gw.listeners[1]!.port}`;
  redirecting = gw.listeners[2]!.url;
});

after(async () => {
  for (const s of sessions) s.destroy();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  await maybeUnset(dir)?.remove();
  maybeUnset(pki)?.cleanup();
});

async function session(origin: string): Promise<ClientHttp2Session> {
  const s = await h2Session(origin, origin.startsWith('https:') ? tlsOpts : {});
  sessions.push(s);
  return s;
}

/** An open WebSocket on `s`, or the test fails with the refusal. */
async function open(s: ClientHttp2Session, path: string, headers: Record<string, string> = {}): Promise<StreamSocket> {
  const o = await openWebSocket(s, path, headers, s.encrypted === true ? 'https' : 'http');
  assert.equal(o.status, 200, `CONNECT ${path}: ${o.status} ${o.body}`);
  return new StreamSocket(o.stream);
}

const both = (): [string, string][] => [
  ['h2c', h2c],
  ['h2 over TLS', tls],
];

test('h2 and h2c listeners advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (node:http2 and nghttp read it)', async () => {
  for (const [name, origin] of both()) {
    const s = await session(origin);
    assert.equal(s.remoteSettings.enableConnectProtocol, true, name);
  }
  const { stdout } = await run('nghttp', ['-nv', `${h2c}/plain/x`]);
  assert.match(stdout, /SETTINGS_ENABLE_CONNECT_PROTOCOL\(0x08\):1/);
});

for (const [name, origin] of [
  ['h2c', () => h2c],
  ['h2 over TLS', () => tls],
] as const) {
  test(`${name}: text and binary echoed; the service sees an HTTP/1.1 handshake with the gateway's own key`, async () => {
    const s = await session(origin());
    const before = up.handshakes.length;
    const o = await openWebSocket(
      s,
      '/echo/room?x=1',
      { 'sec-websocket-protocol': 'chat, superchat', 'sec-websocket-key': 'AAAAAAAAAAAAAAAAAAAAAA==', origin: 'https://app.example' },
      name === 'h2c' ? 'http' : 'https',
    );
    assert.equal(o.status, 200, o.body);
    assert.equal(o.headers['sec-websocket-protocol'], 'chat', 'the subprotocol the service chose');
    assert.equal(o.headers['sec-websocket-accept'], undefined, 'no accept over HTTP/2 (RFC 8441 §5)');
    assert.equal(o.headers.upgrade, undefined);
    const c = new StreamSocket(o.stream);
    c.sendText('hello over h2');
    const text = await c.next();
    assert.equal(text.opcode, 0x1);
    assert.equal(text.data.toString(), 'hello over h2');
    const big = randomBytes(1024 * 1024); // more than HTTP/2's initial windows: flow control both ways
    c.sendBinary(big);
    const bin = await c.next();
    assert.equal(bin.opcode, 0x2);
    assert.ok(bin.data.equals(big), 'the 1 MB binary message came back intact');

    assert.equal(up.handshakes.length, before + 1);
    const hs = up.handshakes.at(-1)!;
    assert.equal(hs.method, 'GET');
    assert.equal(hs.httpVersion, '1.1');
    assert.equal(hs.url, '/echo/room?x=1');
    assert.equal(hs.headers.upgrade, 'websocket');
    assert.equal(hs.headers['sec-websocket-version'], '13');
    assert.equal(hs.headers['sec-websocket-protocol'], 'chat, superchat');
    assert.equal(hs.headers.origin, 'https://app.example');
    const key = hs.headers['sec-websocket-key']!;
    assert.match(key, /^[A-Za-z0-9+/]{21}[AQgw]==$/, 'a base64 nonce of 16 bytes');
    assert.notEqual(key, 'AAAAAAAAAAAAAAAAAAAAAA==', "the client's key is not forwarded");
    assert.equal(hs.headers['x-forwarded-proto'], name === 'h2c' ? 'http' : 'https');

    c.close(1000, 'done');
    assert.deepEqual(await c.closed(), { code: 1000, reason: 'done' });
  });
}

test('several WebSockets and plain requests share one HTTP/2 connection', async () => {
  const s = await session(h2c);
  const sockets = await Promise.all([1, 2, 3].map((i) => open(s, `/echo/many-${i}`)));
  const plain = await within(
    'a plain request beside them',
    new Promise<string>((resolve, reject) => {
      const r = s.request({ ':path': '/plain/beside' });
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => resolve(body));
      r.on('error', reject);
    }),
  );
  assert.equal(plain, 'plain /plain/beside');
  for (const [i, c] of sockets.entries()) c.sendText(`message ${i}`);
  for (const [i, c] of sockets.entries()) assert.equal((await c.next()).data.toString(), `message ${i}`);
  for (const c of sockets) c.close();
  await Promise.all(sockets.map((c) => c.closed()));
});

test('key-auth on the stream: 401 without a key; with one, the identity headers reach the service and a forged one does not', async () => {
  const s = await session(tls);
  const refused = await openWebSocket(s, '/keyed/a', {}, 'https');
  assert.equal(refused.status, 401);
  assert.equal(refused.code, 'GW_UNAUTHORIZED');
  const c = await open(s, '/keyed/b', { 'x-api-key': ALICE, 'x-consumer-id': 'mallory' });
  const hs = up.handshakes.at(-1)!;
  assert.equal(hs.headers['x-consumer-id'], 'alice');
  assert.equal(hs.headers['x-api-key'], undefined, 'the credential is not passed on');
  c.sendText('authenticated');
  assert.equal((await c.next()).data.toString(), 'authenticated');
  c.close();
  await c.closed();
});

test('refusals answer the stream and leave the connection serving', async () => {
  const s = await session(h2c);
  const before = up.handshakes.length;
  const notAllowed = await openWebSocket(s, '/plain/x');
  assert.equal(notAllowed.status, 400);
  assert.equal(notAllowed.code, 'GW_WEBSOCKET_NOT_ALLOWED');
  const version = await openWebSocket(s, '/echo/v', { 'sec-websocket-version': '8' });
  assert.equal(version.status, 426);
  assert.equal(version.headers['sec-websocket-version'], '13');
  assert.equal(up.handshakes.length, before, 'nothing reached the service');

  const denied = await openWebSocket(s, '/deny/x');
  assert.equal(denied.status, 403, "the service's refusal is relayed");
  assert.equal(denied.body, 'not for you\r\n');
  const badAccept = await openWebSocket(s, '/bad-accept/x');
  assert.equal(badAccept.status, 502, 'the Sec-WebSocket-Accept is checked against the key the gateway sent');
  assert.equal(badAccept.code, 'GW_UPSTREAM_ERROR');

  const one = await open(s, '/one/a');
  const full = await openWebSocket(s, '/one/b');
  assert.equal(full.status, 503);
  assert.equal(full.code, 'GW_WEBSOCKET_ROUTE_LIMIT');
  one.close();
  await one.closed();

  // Routed as the GET it stands for: a GET-only route takes it.
  const get = await open(s, '/get-only/x');
  get.sendText('still here');
  assert.equal((await get.next()).data.toString(), 'still here');
  get.close();
  await get.closed();
});

test('a CONNECT without :protocol websocket is refused with 405; the gateway is not a forward proxy', async () => {
  const s = await session(h2c);
  const before = up.handshakes.length;
  const answer = await within(
    'the answer to a plain CONNECT',
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = s.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${up.port}` }, { endStream: false });
      let status = 0;
      let body = '';
      r.on('response', (h) => (status = Number(h[':status'])));
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('close', () => resolve({ status, body }));
      r.on('error', reject);
    }),
  );
  assert.equal(answer.status, 405);
  assert.match(answer.body, /GW_METHOD_NOT_ALLOWED/);
  const other = await openWebSocket(s, '/echo/x', { ':protocol': 'connect-udp' });
  assert.equal(other.status, 405);
  assert.equal(other.code, 'GW_METHOD_NOT_ALLOWED');
  assert.equal(up.handshakes.length, before);
});

test('a malformed extended CONNECT is reset by nghttp2 (PROTOCOL_ERROR) before the gateway sees it; a body is refused', async () => {
  const before = up.handshakes.length;
  const base: [string, string][] = [
    [':method', 'CONNECT'],
    [':protocol', 'websocket'],
    [':scheme', 'http'],
    [':path', '/echo/raw'],
    [':authority', 'localhost'],
  ];
  const without = (name: string) => base.filter(([n]) => n !== name);
  const malformed: [string, [string, string][]][] = [
    ['no :path', without(':path')],
    ['no :scheme', without(':scheme')],
    ['no :authority', without(':authority')],
    [':protocol on a GET', [[':method', 'GET'], ...without(':method')]],
  ];
  const port = gw.listeners[0]!.port;
  for (const [name, fields] of malformed) {
    const c = await RawH2.connect(port);
    try {
      c.write(headersFrame(1, headerBlock([...fields, ['sec-websocket-version', '13']]), { endStream: false }));
      const f = await c.until((x) => x.streamId === 1 && (x.type === FrameType.RST_STREAM || x.type === FrameType.HEADERS));
      assert.ok(f !== false, `${name}: no answer`);
      assert.equal(f.type, FrameType.RST_STREAM, `${name}: answered instead of reset`);
      assert.equal(f.payload.readUInt32BE(0), ErrorCode.PROTOCOL_ERROR, name);
    } finally {
      c.destroy();
    }
  }
  const s = await session(h2c);
  const body = await openWebSocket(s, '/echo/body', { 'content-length': '5' });
  assert.equal(body.status, 400);
  assert.equal(body.code, 'GW_WEBSOCKET_BAD_HANDSHAKE');
  assert.equal(up.handshakes.length, before, 'nothing reached the service');
});

test('a client whose connection drops: the service side is closed too', async () => {
  const s = await h2Session(h2c);
  const c = await open(s, '/echo/drop');
  c.sendText('here');
  await c.next();
  const open0 = up.sockets.size;
  const closes = up.closes.length;
  s.destroy(); // the TCP connection, every stream with it
  await waitFor('the service to lose its connection', () => up.closes.length === closes + 1);
  assert.equal(up.sockets.size, open0 - 1);
  assert.equal(up.closes.at(-1), 1006, 'no close frame: the connection was cut, as the client cut its own');
});

test('a listener with redirectHttps redirects an extended CONNECT (308 on the stream)', async () => {
  const s = await session(redirecting);
  const before = up.handshakes.length;
  const o = await openWebSocket(s, '/echo/r?x=1');
  assert.equal(o.status, 308);
  assert.equal(o.headers.location, 'https://localhost/echo/r?x=1');
  assert.equal(up.handshakes.length, before);
});

test('idle timeout: close 1001 to the HTTP/2 client and to the service', async () => {
  const s = await session(h2c);
  const closes = up.closes.length;
  const c = await open(s, '/idle/quiet');
  assert.deepEqual(await c.closed(), { code: 1001, reason: 'idle timeout' });
  await waitFor('the service to see the close', () => up.closes.length === closes + 1);
  assert.equal(up.closes.at(-1), 1001);
  assert.equal(s.closed || s.destroyed, false, 'the connection itself stays open');
});

test('one access-log line when the connection ends: GET over HTTP/2.0, status 200, bytes each way, close code', async () => {
  const s = await session(tls);
  const c = await open(s, '/echo/logged', { 'x-request-id': 'ws-over-h2-logged' });
  c.sendText('x'.repeat(1000));
  await c.next();
  c.close(4000, 'bye');
  assert.equal((await c.closed()).code, 4000);
  const line = await waitFor('the access-log line', async () => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    const found = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.requestId === 'ws-over-h2-logged');
    return found;
  });
  assert.equal(line.method, 'GET');
  assert.equal(line.protocol, 'HTTP/2.0');
  assert.equal(line.status, 200);
  assert.equal(line.route, 'echo');
  assert.equal(line.closeCode, 4000);
  assert.equal(line.aborted, false);
  assert.ok((line.bytesIn as number) >= 1000 + 8 && (line.bytesIn as number) < 1100, `bytesIn ${String(line.bytesIn)}`);
  assert.ok((line.bytesOut as number) >= 1000 + 4 && (line.bytesOut as number) < 1100, `bytesOut ${String(line.bytesOut)}`);
});

test('shutdown: close 1001 on every WebSocket over HTTP/2, and to the service', async () => {
  const svc = await startWsUpstream();
  const pki2 = makePki();
  try {
    const g = await startTestGateway({
      listen: [
        { port: 0, host: '127.0.0.1', http2: true },
        { port: 0, host: '127.0.0.1', tls: { cert: pki2.server.certPath, key: pki2.server.keyPath } },
      ],
      shutdown: { drainTimeout: '10s' },
      services: { svc: { targets: [{ url: svc.url }] } },
      routes: [{ name: 'chat', service: 'svc', websocket: true }],
    });
    const plain = await h2Session(g.listeners[0]!.url);
    const secure = await h2Session(`https://localhost:${g.listeners[1]!.port}`, { ca: pki2.ca.cert });
    sessions.push(plain, secure);
    const a = await open(plain, '/a');
    const b = await open(secure, '/b');
    a.sendText('warm');
    await a.next();
    a.sendBinary(randomBytes(4 * 1024 * 1024)); // in flight while the gateway stops
    const closes = Promise.all([a.closed(), b.closed()]);
    await g.stop();
    for (const got of await closes) assert.deepEqual(got, { code: 1001, reason: 'gateway shutting down' });
    await waitFor('the service to see both closes', () => svc.closes.length === 2);
    assert.deepEqual(svc.closes, [1001, 1001]);
  } finally {
    await svc.close();
    pki2.cleanup();
  }
});
