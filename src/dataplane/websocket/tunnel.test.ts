// The tunnel between two real socket pairs (client ↔ gateway, gateway ↔ service), driven byte by
// byte: the gateway's close frame waits for the end of a frame that is half through, and what the
// client sends after it is not passed on. Every wait has a deadline: a tunnel that stops passing
// bytes fails the test with what was awaited, instead of hanging until the runner gives up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net, { type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { FrameReader } from './frames.js';
import { Tunnel } from './tunnel.js';
import { within } from '../../../test/helpers/child.js';

const servers: net.Server[] = [];
const sockets: Socket[] = [];
after(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});

/** Two connected sockets: [the far end, the gateway's end]. */
async function pair(): Promise<[Socket, Socket]> {
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const far = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  sockets.push(far);
  await within('a connection', new Promise((r) => far.once('connect', r)));
  const near = await within('the accepted connection', accepted);
  sockets.push(near);
  return [far, near];
}

/** Everything a socket receives, and a way to wait for a given amount. */
function collect(s: Socket, name: string): { bytes: () => Buffer; until: (n: number) => Promise<Buffer> } {
  let buf = Buffer.alloc(0);
  const waiters: (() => void)[] = [];
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (const w of waiters.splice(0)) w();
  });
  const until = (n: number): Promise<Buffer> =>
    within(
      `${n} bytes at the ${name} (it has ${buf.length})`,
      (async () => {
        while (buf.length < n) await new Promise<void>((r) => waiters.push(r));
        return buf;
      })(),
    );
  return { bytes: () => buf, until };
}

function maskedFrame(payload: Buffer): Buffer {
  const key = randomBytes(4);
  const head =
    payload.length < 126
      ? Buffer.from([0x82, 0x80 | payload.length])
      : Buffer.from([0x82, 0x80 | 126, payload.length >> 8, payload.length & 255]);
  return Buffer.concat([head, key, Buffer.from(payload.map((b, i) => b ^ key[i & 3]!))]);
}

test('going away mid-frame: the close frame follows the frame in flight; later frames are dropped', async () => {
  const [clientApp, gwClient] = await pair();
  const [upstreamApp, gwUpstream] = await pair();
  const counters = { bytesIn: 0, bytesOut: 0 };
  let ended: Tunnel | undefined;
  const tunnel = new Tunnel(gwClient, gwUpstream, counters, (t) => (ended = t));
  tunnel.start(Buffer.alloc(0), 0, 0);
  const atUpstream = collect(upstreamApp, 'service');
  const atClient = collect(clientApp, 'client');

  const first = maskedFrame(randomBytes(1000));
  clientApp.write(first.subarray(0, 500));
  await atUpstream.until(500);
  tunnel.goingAway('shutdown');
  // Towards the client nothing was in flight: its close frame goes at once, unmasked.
  const toClient = await atClient.until(2);
  assert.equal(toClient[0], 0x88);
  assert.equal(toClient[1]! & 0x80, 0, 'unmasked');

  clientApp.write(Buffer.concat([first.subarray(500), maskedFrame(Buffer.from('after the close'))]));
  const got = await atUpstream.until(first.length + 2);
  assert.deepEqual(got.subarray(0, first.length), first, 'the frame in flight arrives whole');
  const reader = new FrameReader();
  await atUpstream.until(first.length + 2 + 4 + 2 + 'gateway shutting down'.length);
  reader.read(atUpstream.bytes(), 0, false);
  assert.equal(reader.closes, 1);
  assert.equal(reader.closeCode, 1001);
  assert.equal(reader.atBoundary, true, 'nothing after the close frame');
  assert.equal(atUpstream.bytes()[first.length + 1]! & 0x80, 0x80, 'masked towards the service');

  // Each side answers with its close frame: the gateway ends both sockets.
  const answer = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9]);
  clientApp.write(answer);
  upstreamApp.write(Buffer.from([0x88, 0x02, 0x03, 0xe9]));
  await within(
    "the gateway's FIN on both sides",
    Promise.all([new Promise((r) => clientApp.once('end', r)), new Promise((r) => upstreamApp.once('end', r))]),
  );
  clientApp.end();
  upstreamApp.end();
  await within(
    'the tunnel to end',
    (async () => {
      while (ended === undefined) await new Promise((r) => setImmediate(r));
    })(),
  );
  assert.equal(tunnel.reason, 'shutdown');
  assert.equal(tunnel.closeCode, 1001);
  assert.equal(counters.bytesIn, tunnel.bytesIn);
  assert.ok(tunnel.bytesIn >= first.length);
});
