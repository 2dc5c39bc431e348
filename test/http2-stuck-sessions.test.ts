// HTTP/2 sessions that would outlive their client (security review, issue 17): a connection error
// nghttp2 detects itself — DATA on a stream the client had already ended — makes it send GOAWAY
// and stop reading and writing, while node keeps the session, its socket and its streams. The
// exchanges on them never end (in flight for good, counted by load shedding), even once the client
// has gone. The session guard's liveness PING finds such a session and destroys it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { FrameType, Flag, RawH2, data, getFields, headerBlock, headers } from './helpers/h2-raw.js';
import { maybeUnset } from './helpers/hooks.js';
import { waitFor } from './helpers/child.js';

let up: Upstream;
let gw: TestGateway;

before(async () => {
  up = await startUpstream((req, res) => {
    req.resume();
    if (req.url === '/upload') req.on('end', () => res.end('received'));
    else setTimeout(() => res.end('late'), 100);
  });
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    server: { keepAliveTimeout: '300ms' },
    services: { up: { targets: [{ url: up.url }] } },
    routes: [{ name: 'all', match: { paths: ['/*'] }, service: 'up' }],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

async function inFlight(): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('gatehouse_requests_in_flight '));
  return Number(line?.split(' ')[1]);
}

async function rawClient(): Promise<RawH2> {
  const c = await RawH2.connect(gw.port);
  assert.ok(await c.until((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0), 'the server acknowledged our SETTINGS');
  return c;
}

test('DATA after END_STREAM: nghttp2 sends GOAWAY; the session and its streams are then closed, not kept in flight', async () => {
  const c = await rawClient();
  const block = headerBlock(getFields('/slow'));
  for (let id = 1; id <= 9; id += 2) c.write(headers(id, block)); // five GETs, each with END_STREAM
  c.write(data(1, Buffer.from('x'), false)); // on a half-closed stream: a connection error (STREAM_CLOSED)
  const goaway = await c.until((f) => f.type === FrameType.GOAWAY);
  assert.ok(goaway !== false, 'nghttp2 sent GOAWAY');
  // The server closes the connection (before: it stayed open, with five exchanges in flight).
  assert.equal(await c.closedWithin(10_000), true, 'the server closed the connection');
  await waitFor('no request in flight', async () => (await inFlight()) === 0, 10_000);
});

test('the same when the client leaves right after: nothing stays in flight', async () => {
  const c = await rawClient();
  const block = headerBlock(getFields('/slow'));
  for (let id = 1; id <= 9; id += 2) c.write(headers(id, block));
  c.write(data(1, Buffer.from('x'), false));
  assert.ok((await c.until((f) => f.type === FrameType.GOAWAY)) !== false, 'nghttp2 sent GOAWAY');
  c.destroy(); // its FIN is never read by the ended session
  await waitFor('no request in flight', async () => (await inFlight()) === 0, 10_000);
});

test('a live client with a quiet stream answers the PING and keeps its stream', async () => {
  const c = await rawClient();
  // A POST whose body never ends: a stream that stays open, quiet, for longer than keepAliveTimeout.
  const post = headerBlock([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', '/upload'],
    [':authority', 'localhost'],
  ]);
  c.write(headers(1, post, { endStream: false }));
  c.write(data(1, Buffer.from('part'), false));
  // RawH2 answers nothing but SETTINGS: answer the liveness PING as any client does.
  const ping = await c.until((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) === 0);
  assert.ok(ping !== false, 'the server sent a PING on the quiet session');
  c.write(Buffer.concat([Buffer.from([0, 0, 8, FrameType.PING, Flag.ACK, 0, 0, 0, 0]), ping.payload]));
  c.write(data(1, Buffer.from('rest'), true));
  const answer = await c.until((f) => f.type === FrameType.HEADERS && f.streamId === 1);
  assert.ok(answer !== false, 'the stream was answered after the PING');
  c.destroy();
});
