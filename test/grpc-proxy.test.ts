// gRPC through a real gateway (h2c listener, h2c service) with a real @grpc/grpc-js service and
// client: the four shapes, grpc-status / grpc-message / binary metadata in trailers, 4 MB
// messages, cancellation both ways, grpc-timeout deadlines, and the access log's grpcStatus and
// operation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startGrpcServer, echoClient, unary, grpc, type GrpcTestServer, type EchoClient, type EchoReply } from './helpers/grpc-server.js';
import { tempDir, waitFor, type TempDir } from './helpers/child.js';

let svc: GrpcTestServer;
let gw: TestGateway;
let client: EchoClient;
let dir: TempDir;
let logFile: string;

before(async () => {
  svc = await startGrpcServer();
  dir = await tempDir();
  logFile = join(dir.path, 'access.log');
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    accessLog: { path: logFile },
    services: { echo: { protocol: 'h2c', targets: [{ url: svc.url }] } },
    routes: [{ name: 'echo', match: { paths: ['/gatehouse.test.Echo/*'] }, service: 'echo' }],
  });
  client = echoClient(`127.0.0.1:${gw.port}`);
});

after(async () => {
  client.close();
  await gw.stop();
  await svc.close();
  await dir.remove();
});

async function logLines(): Promise<Record<string, unknown>[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function collect(stream: NodeJS.ReadableStream & { on(e: 'status', f: (s: grpc.StatusObject) => void): unknown }): Promise<{
  items: EchoReply[];
  error?: grpc.ServiceError;
  status: grpc.StatusObject;
}> {
  return new Promise((resolve) => {
    const items: EchoReply[] = [];
    let error: grpc.ServiceError | undefined;
    stream.on('data', (m: EchoReply) => items.push(m));
    stream.on('error', (e: grpc.ServiceError) => (error = e));
    stream.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ items, error, status })));
  });
}

test('unary: the reply, request metadata up, text and binary trailers back', async () => {
  const md = new grpc.Metadata();
  md.set('x-client', 'hello');
  const r = await unary(client, { text: 'héllo', payload: Buffer.from([0, 1, 2, 255]) }, { metadata: md });
  assert.equal(r.error, undefined);
  assert.equal(r.reply!.text, 'héllo|hello');
  assert.deepEqual([...r.reply!.payload], [0, 1, 2, 255]);
  assert.deepEqual(r.trailers!.get('x-echo-bin'), [Buffer.from('héllo', 'utf8')]);
  assert.deepEqual(r.trailers!.get('x-echo-text'), ['trailer']);
});

test('unary: the service’s error status, percent-encoded message and binary trailers reach the client', async () => {
  const message = 'nope: 100% ünïcode\nline';
  const r = await unary(client, { text: 'bad', count: grpc.status.FAILED_PRECONDITION, failMessage: message });
  assert.equal(r.error!.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(r.error!.details, message);
  assert.deepEqual(r.error!.metadata.get('x-echo-bin'), [Buffer.from('bad')]);
});

test('server streaming: every reply in order, then the trailers', async () => {
  const r = await collect(client.ServerStream({ text: 's', count: 50 }, new grpc.Metadata()));
  assert.equal(r.error, undefined);
  assert.deepEqual(
    r.items.map((m) => m.index),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.equal(r.status.code, grpc.status.OK);
  assert.deepEqual(r.status.metadata.get('x-echo-bin'), [Buffer.from('s')]);
});

test('client streaming: many messages up, one reply', async () => {
  const reply = await new Promise<EchoReply>((resolve, reject) => {
    const call = client.ClientStream(new grpc.Metadata(), {}, (err, r) => (err ? reject(err) : resolve(r!)));
    for (let i = 0; i < 20; i++) call.write({ text: String(i), payload: Buffer.alloc(1000) });
    call.end();
  });
  assert.equal(reply.text, Array.from({ length: 20 }, (_, i) => String(i)).join(','));
  assert.equal(reply.index, 20_000);
});

test('bidirectional: each message answered while the call stays open', async () => {
  const call = client.Bidi(new grpc.Metadata());
  const done = collect(call);
  const got: string[] = [];
  for (const word of ['a', 'b', 'c']) {
    call.write({ text: word });
    const [m] = (await once(call, 'data')) as [EchoReply];
    got.push(m.text);
  }
  call.end();
  const r = await done;
  assert.deepEqual(got, ['A', 'B', 'C']);
  assert.equal(r.status.code, grpc.status.OK);
  assert.deepEqual(r.status.metadata.get('x-echo-bin'), [Buffer.from('bidi')]);
});

test('large messages: 4 MB up and back (unary), and in a bidirectional stream', async () => {
  const big = Buffer.alloc(4 * 1024 * 1024 + 7);
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
  const r = await unary(client, { text: 'big', payload: big });
  assert.equal(r.error, undefined);
  assert.ok(r.reply!.payload.equals(big));
  const call = client.Bidi(new grpc.Metadata());
  const done = collect(call);
  call.write({ text: 'x', payload: big });
  call.write({ text: 'y', payload: big });
  call.end();
  const s = await done;
  assert.equal(s.status.code, grpc.status.OK);
  assert.equal(s.items.length, 2);
  assert.ok(s.items[1]!.payload.equals(big));
});

test('the client cancels a server stream: the service sees its call cancelled', async () => {
  const call = client.ServerStream({ text: 'slow', count: 100_000, delayMs: 20 }, new grpc.Metadata());
  call.on('error', () => {});
  await once(call, 'data');
  const cancelled = svc.cancelled('ServerStream');
  call.cancel();
  await cancelled;
});

test('grpc-timeout: past it, a unary call not yet answered gets DEADLINE_EXCEEDED from the gateway and the service’s call is cancelled', async () => {
  // A raw HTTP/2 client: grpc-js would give up at its own deadline, so whose answer it was could not be told.
  const session = http2.connect(`http://127.0.0.1:${gw.port}`);
  try {
    const cancelled = svc.cancelled('Unary');
    const stream = session.request({
      ':method': 'POST',
      ':path': '/gatehouse.test.Echo/Unary',
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': '200m',
    });
    // EchoRequest { delay_ms: 60000 } (field 5, varint): 28 e0 d4 03
    const msg = Buffer.from([0x28, 0xe0, 0xd4, 0x03]);
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]);
    stream.end(frame);
    const [headers, flags] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders, number];
    assert.equal(headers[':status'], 200);
    assert.equal(headers['grpc-status'], String(grpc.status.DEADLINE_EXCEEDED));
    assert.equal(headers['content-type'], 'application/grpc');
    assert.equal(headers['grpc-message'], 'The call%E2%80%99s deadline (grpc-timeout) passed before it was answered.');
    assert.ok(flags & http2.constants.NGHTTP2_FLAG_END_STREAM, 'trailers-only: END_STREAM on the headers');
    await cancelled;
    stream.close();
  } finally {
    session.close();
  }
});

test('grpc-timeout with a grpc-js client: a slow unary call ends DEADLINE_EXCEEDED', async () => {
  const r = await unary(client, { text: 'late', delayMs: 60_000 }, { deadlineMs: 300 });
  assert.equal(r.error!.code, grpc.status.DEADLINE_EXCEEDED);
});

test('grpc-timeout once the response has begun: the stream is reset and the service’s call cancelled', async () => {
  const session = http2.connect(`http://127.0.0.1:${gw.port}`);
  try {
    const cancelled = svc.cancelled('ServerStream');
    const stream = session.request({
      ':method': 'POST',
      ':path': '/gatehouse.test.Echo/ServerStream',
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': '300m',
    });
    stream.on('error', () => {});
    // EchoRequest { count: 100000, delay_ms: 50 }: 18 a0 8d 06 28 32
    const msg = Buffer.from([0x18, 0xa0, 0x8d, 0x06, 0x28, 0x32]);
    stream.end(Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg]));
    stream.resume();
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    assert.equal(headers[':status'], 200);
    await once(stream, 'close');
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_CANCEL);
    await cancelled;
  } finally {
    session.close();
  }
});

test('a malformed grpc-timeout is refused with INTERNAL', async () => {
  const session = http2.connect(`http://127.0.0.1:${gw.port}`);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/gatehouse.test.Echo/Unary',
      'content-type': 'application/grpc+proto',
      te: 'trailers',
      'grpc-timeout': '10 seconds',
    });
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
    stream.resume();
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    assert.equal(headers[':status'], 200);
    assert.equal(headers['grpc-status'], String(grpc.status.INTERNAL));
    assert.equal(headers['grpc-message'], 'The grpc-timeout header is malformed.');
  } finally {
    session.close();
  }
});

test('the access log carries grpcStatus beside the HTTP status, and the call as its operation', async () => {
  const withId = (id: string): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set('x-request-id', id);
    return md;
  };
  await unary(client, { text: 'logged-ok' }, { metadata: withId('grpc-log-ok') });
  await unary(client, { text: 'logged-bad', count: grpc.status.NOT_FOUND, failMessage: 'gone' }, { metadata: withId('grpc-log-bad') });
  const lines = await waitFor('both lines', async () => {
    const all = await logLines();
    const ok = all.find((l) => l.requestId === 'grpc-log-ok');
    const bad = all.find((l) => l.requestId === 'grpc-log-bad');
    return ok && bad ? [ok, bad] : undefined;
  });
  assert.equal(lines[0]!.status, 200);
  assert.equal(lines[0]!.grpcStatus, 0);
  assert.equal(lines[0]!.operation, 'call /gatehouse.test.Echo/Unary');
  assert.equal(lines[1]!.status, 200);
  assert.equal(lines[1]!.grpcStatus, grpc.status.NOT_FOUND);
});

test('metrics: gatehouse_grpc_requests_total by route, method and grpc-status', async () => {
  await unary(client, { text: 'm', count: grpc.status.ABORTED, failMessage: 'again' });
  const res = await fetch(`${gw.adminUrl}/metrics`);
  const text = await res.text();
  assert.match(text, /gatehouse_grpc_requests_total\{route="echo",method="\/gatehouse\.test\.Echo\/Unary",grpc_status="0"\} \d+/);
  assert.match(text, /gatehouse_grpc_requests_total\{route="echo",method="\/gatehouse\.test\.Echo\/Unary",grpc_status="10"\} 1\b/);
  assert.match(text, /gatehouse_grpc_requests_total\{route="echo",method="\/gatehouse\.test\.Echo\/ServerStream",grpc_status="0"\} \d+/);
});

test('a service’s trailers-only head on a call still sending, the service’s stream left open: the client’s call ends at once', async () => {
  // The head with grpc-status ends the client's call; a client still sending is told to stop
  // (RST_STREAM NO_ERROR) then, not when the service ends its own stream — never, here — nor at the
  // deadline, which reset it with CANCEL and logged DEADLINE_EXCEEDED for a call answered NOT_FOUND.
  const svc = http2.createServer();
  svc.on('stream', (s) => {
    s.on('error', () => {});
    s.resume();
    s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'nope' });
  });
  svc.listen(0, '127.0.0.1');
  await once(svc, 'listening');
  const open = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { s: { protocol: 'h2c', targets: [{ url: `http://127.0.0.1:${(svc.address() as AddressInfo).port}` }] } },
    routes: [{ name: 'r', match: { paths: ['/a.B/*'] }, service: 's' }],
  });
  const session = http2.connect(`http://127.0.0.1:${open.port}`);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/a.B/C',
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': '2S',
    });
    stream.on('error', () => {});
    stream.resume();
    stream.write(Buffer.from([0, 0, 0, 0, 0])); // the call is not ended
    const [headers, flags] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders, number];
    assert.equal(headers['grpc-status'], '5');
    assert.ok(flags & http2.constants.NGHTTP2_FLAG_END_STREAM);
    await once(stream, 'close');
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  } finally {
    session.destroy();
    await open.stop();
    svc.close();
  }
});
