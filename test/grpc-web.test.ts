// gRPC-Web (`type: grpc-web`) against a real @grpc/grpc-js service, driven as a browser's gRPC-Web
// client drives it (the protocol by hand: framed messages, the trailer frame, base64 text mode),
// over HTTP/1.1 and HTTP/2; with CORS (a preflight and the exposed status fields), the gateway's
// own refusals as gRPC-Web answers, and native gRPC on the same route.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startGrpcServer, echoClient, unary, type GrpcTestServer, type EchoClient } from './helpers/grpc-server.js';
import http2 from 'node:http2';

const root = protobuf.loadSync(fileURLToPath(new URL('../../test/fixtures/echo.proto', import.meta.url)));
const EchoRequest = root.lookupType('gatehouse.test.EchoRequest');
const EchoReply = root.lookupType('gatehouse.test.EchoReply');

let svc: GrpcTestServer;
let gw: TestGateway;
let base: string;
let native: EchoClient;
const ORIGIN = 'https://app.example.com';

before(async () => {
  svc = await startGrpcServer();
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { echo: { protocol: 'h2c', targets: [{ url: svc.url }] } },
    consumers: [{ id: 'web', credentials: [{ type: 'api-key', key: 'web-key-0123456789' }] }],
    routes: [
      {
        name: 'echo',
        match: { paths: ['/gatehouse.test.Echo/*'] },
        service: 'echo',
        policies: [{ type: 'cors', origins: [ORIGIN] }, { type: 'grpc-web' }],
      },
      {
        name: 'locked',
        match: { paths: ['/locked/gatehouse.test.Echo/*'] },
        service: 'echo',
        stripPrefix: '/locked',
        policies: [{ type: 'cors', origins: [ORIGIN] }, { type: 'key-auth' }, { type: 'grpc-web' }],
      },
    ],
  });
  base = `http://127.0.0.1:${gw.port}`;
  native = echoClient(`127.0.0.1:${gw.port}`);
});

after(async () => {
  native.close();
  await gw.stop();
  await svc.close();
});

function frame(payload: Uint8Array, flag = 0): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = flag;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

function call(message: Record<string, unknown>): Buffer {
  return frame(EchoRequest.encode(EchoRequest.create(message)).finish());
}

interface WebAnswer {
  messages: Record<string, unknown>[];
  trailers: Record<string, string>;
}

/** A gRPC-Web body read as a client does: messages, then the trailer frame. */
function readBody(body: Buffer): WebAnswer {
  const messages: Record<string, unknown>[] = [];
  const trailers: Record<string, string> = {};
  let at = 0;
  while (at < body.length) {
    const flag = body[at]!;
    const length = body.readUInt32BE(at + 1);
    const payload = body.subarray(at + 5, at + 5 + length);
    assert.equal(payload.length, length, 'a whole frame');
    at += 5 + length;
    if (flag === 0x80) {
      for (const line of payload.toString('latin1').split('\r\n').filter(Boolean)) {
        const colon = line.indexOf(':');
        trailers[line.slice(0, colon)] = line.slice(colon + 1).trim();
      }
      assert.equal(at, body.length, 'the trailer frame is the last');
    } else {
      assert.equal(flag, 0);
      messages.push(EchoReply.toObject(EchoReply.decode(payload), { defaults: true }));
    }
  }
  return { messages, trailers };
}

/** A POST over HTTP/2 (prior knowledge), its body as bytes. */
function h2Post(path: string, body: Buffer | string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>((resolve, reject) => {
    const session = http2.connect(base);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': path, ...headers });
    let head: Record<string, string> = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (head = h as Record<string, string>));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () => {
      session.close();
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) });
    });
    stream.end(body);
  });
}

const WEB_HEADERS = { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', 'x-user-agent': 'grpc-web-javascript/0.1' };

for (const via of ['HTTP/1.1', 'HTTP/2'] as const) {
  const post = async (path: string, body: Buffer | string, headers: Record<string, string>) => {
    if (via === 'HTTP/1.1') {
      const r = await request(`${base}${path}`, { method: 'POST', body, headers });
      return { status: r.statusCode, headers: r.headers as Record<string, string>, body: Buffer.from(await r.body.arrayBuffer()) };
    }
    return h2Post(path, body, headers);
  };

  test(`${via}: a unary call in binary mode: the message, then the trailers (metadata included) in the last frame`, async () => {
    const r = await post('/gatehouse.test.Echo/Unary', call({ text: 'hi' }), WEB_HEADERS);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc-web+proto');
    const answer = readBody(r.body);
    assert.equal(answer.messages.length, 1);
    assert.equal(answer.messages[0]!.text, 'hi');
    assert.equal(answer.trailers['grpc-status'], '0');
    assert.equal(answer.trailers['x-echo-text'], 'trailer');
    assert.equal(Buffer.from(answer.trailers['x-echo-bin']!, 'base64').toString(), 'hi');
  });

  test(`${via}: text mode: a base64 request (two padded pieces) and a base64 answer`, async () => {
    // A client may encode each message on its own: two padded pieces one after the other.
    const whole = call({ text: 'text mode' });
    const body = whole.subarray(0, 4).toString('base64') + whole.subarray(4).toString('base64');
    assert.match(body, /=.+/, 'the first piece is padded');
    const r = await post('/gatehouse.test.Echo/Unary', body, {
      ...WEB_HEADERS,
      'content-type': 'application/grpc-web-text',
      accept: 'application/grpc-web-text',
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc-web-text+proto');
    const text = r.body.toString('latin1');
    assert.match(text, /^[A-Za-z0-9+/]+=*$/);
    const answer = readBody(Buffer.from(text, 'base64'));
    assert.equal(answer.messages[0]!.text, 'text mode');
    assert.equal(answer.trailers['grpc-status'], '0');
  });

  test(`${via}: server streaming: every message, then the trailers`, async () => {
    const r = await post('/gatehouse.test.Echo/ServerStream', call({ text: 's', count: 3 }), WEB_HEADERS);
    const answer = readBody(r.body);
    assert.deepEqual(
      answer.messages.map((m) => m.index),
      [0, 1, 2],
    );
    assert.equal(answer.trailers['grpc-status'], '0');
  });

  test(`${via}: a service's error before any message stays trailers-only: the status in the head, no body`, async () => {
    const r = await post('/gatehouse.test.Echo/Unary', call({ text: 'x', count: 5, failMessage: 'no such echo' }), WEB_HEADERS);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc-web+proto');
    assert.equal(r.headers['grpc-status'], '5');
    assert.equal(r.headers['grpc-message'], 'no%20such%20echo', 'percent-encoded, as on the wire');
    assert.equal(r.body.length, 0);
  });

  test(`${via}: the gateway's own refusal of a gRPC-Web call is a gRPC-Web answer, its status exposed to the page`, async () => {
    const r = await post('/locked/gatehouse.test.Echo/Unary', call({ text: 'x' }), { ...WEB_HEADERS, origin: ORIGIN });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/grpc-web+proto');
    assert.equal(r.headers['grpc-status'], '16');
    assert.equal(r.headers['access-control-allow-origin'], ORIGIN);
    assert.match(r.headers['access-control-expose-headers'] ?? '', /grpc-status/);
    const bad = await post('/gatehouse.test.Echo/Unary', 'not base64!', { ...WEB_HEADERS, 'content-type': 'application/grpc-web-text' });
    assert.equal(bad.headers['grpc-status'], '3', 'a body that is not base64: INVALID_ARGUMENT');
    assert.equal(bad.headers['content-type'], 'application/grpc-web-text+proto');
  });
}

test('CORS: a browser preflight for a gRPC-Web call is answered, and the answer exposes the gRPC status fields', async () => {
  const pre = await request(`${base}/gatehouse.test.Echo/Unary`, {
    method: 'OPTIONS',
    headers: {
      origin: ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,x-grpc-web,x-user-agent',
    },
  });
  await pre.body.dump();
  assert.equal(pre.statusCode, 204);
  assert.equal(pre.headers['access-control-allow-origin'], ORIGIN);
  const r = await request(`${base}/gatehouse.test.Echo/Unary`, {
    method: 'POST',
    body: call({ text: 'c' }),
    headers: { ...WEB_HEADERS, origin: ORIGIN },
  });
  await r.body.dump();
  assert.equal(r.headers['access-control-allow-origin'], ORIGIN);
  assert.match(String(r.headers['access-control-expose-headers']), /grpc-status, grpc-message/);
  const other = await request(`${base}/gatehouse.test.Echo/Unary`, {
    method: 'POST',
    body: call({ text: 'c' }),
    headers: { ...WEB_HEADERS, origin: 'https://evil.example' },
  });
  await other.body.dump();
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  assert.equal(other.headers['access-control-expose-headers'], undefined, 'nothing exposed to an origin not allowed');
});

test('native gRPC on the same route is untouched: a unary call and a bidirectional stream', async () => {
  const { reply } = await unary(native, { text: 'native' });
  assert.equal(reply?.text, 'native');
  const bidi = native.Bidi(new (await import('./helpers/grpc-server.js')).grpc.Metadata());
  const got: string[] = [];
  bidi.on('data', (m: { text: string }) => {
    got.push(m.text);
    if (got.length === 1) bidi.write({ text: 'two' });
    else bidi.end();
  });
  bidi.write({ text: 'one' });
  await new Promise<void>((resolve, reject) => {
    bidi.on('end', resolve);
    bidi.on('error', reject);
  });
  assert.deepEqual(got, ['ONE', 'TWO'], 'a reply before the request ended: the call streamed both ways');
});

test('large messages stream both ways in both modes (4 MiB payload), and the text answer decodes whole', async () => {
  const payload = Buffer.alloc(4 * 1024 * 1024, 7);
  const bin = await request(`${base}/gatehouse.test.Echo/Unary`, {
    method: 'POST',
    body: call({ text: 'big', payload }),
    headers: WEB_HEADERS,
  });
  const answer = readBody(Buffer.from(await bin.body.arrayBuffer()));
  assert.equal((answer.messages[0]!.payload as Uint8Array).length, payload.length);
  assert.equal(answer.trailers['grpc-status'], '0');
  const small = Buffer.alloc(256 * 1024, 9); // text mode is read whole: under maxTextBody (1mb) once in base64
  const text = await request(`${base}/gatehouse.test.Echo/Unary`, {
    method: 'POST',
    body: call({ text: 'big text', payload: small }).toString('base64'),
    headers: { ...WEB_HEADERS, 'content-type': 'application/grpc-web-text' },
  });
  const decoded = readBody(Buffer.from(await text.body.text(), 'base64'));
  assert.deepEqual(Buffer.from(decoded.messages[0]!.payload as Uint8Array), small);
});

test('a deadline (grpc-timeout) reaches the service: a slower call ends DEADLINE_EXCEEDED', async () => {
  const r = await request(`${base}/gatehouse.test.Echo/Unary`, {
    method: 'POST',
    body: call({ text: 'slow', delayMs: 2000 }),
    headers: { ...WEB_HEADERS, 'grpc-timeout': '200m' },
  });
  const body = Buffer.from(await r.body.arrayBuffer());
  const status = r.headers['grpc-status'] ?? readBody(body).trailers['grpc-status'];
  assert.equal(status, '4');
});

test('a text-mode body over maxTextBody is refused (RESOURCE_EXHAUSTED) before the service, and the gateway keeps serving', async () => {
  const huge = 'A'.repeat(2 * 1024 * 1024); // valid base64, twice the default 1mb
  const r = await request(`${base}/gatehouse.test.Echo/Unary`, {
    method: 'POST',
    body: huge,
    headers: { ...WEB_HEADERS, 'content-type': 'application/grpc-web-text' },
  });
  await r.body.dump();
  assert.equal(r.headers['grpc-status'], '8');
  const after = await request(`${base}/gatehouse.test.Echo/Unary`, {
    method: 'POST',
    body: call({ text: 'still here' }),
    headers: WEB_HEADERS,
  });
  assert.equal(readBody(Buffer.from(await after.body.arrayBuffer())).messages[0]!.text, 'still here');
});
