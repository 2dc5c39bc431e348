// When Gatehouse itself refuses a gRPC call it answers as gRPC does — HTTP 200, a trailers-only
// grpc-status and grpc-message — seen by a real @grpc/grpc-js client: key-auth (UNAUTHENTICATED),
// acl (PERMISSION_DENIED), rate-limit (RESOURCE_EXHAUSTED), no route (UNIMPLEMENTED), a service
// down and its circuit open (UNAVAILABLE); a policy's literal-body verdict (GraphQL's) too.
// Non-gRPC requests keep the JSON error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startGrpcServer, echoClient, unary, grpc, type GrpcTestServer, type EchoClient } from './helpers/grpc-server.js';
import { freePort, waitFor } from './helpers/child.js';

let svc: GrpcTestServer;
let gw: TestGateway;
const clients: EchoClient[] = [];
const ECHO = ['/gatehouse.test.Echo/*'];

before(async () => {
  svc = await startGrpcServer();
  const dead = `http://127.0.0.1:${await freePort()}`;
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: {
      echo: { protocol: 'h2c', targets: [{ url: svc.url }] },
      down: { protocol: 'h2c', targets: [{ url: dead }] },
      tripping: { protocol: 'h2c', targets: [{ url: dead }], circuitBreaker: { consecutiveFailures: 1, openDuration: '1m' } },
      unhealthy: {
        protocol: 'h2c',
        targets: [{ url: dead }],
        healthCheck: { active: { path: '/health', interval: '50ms', timeout: '500ms', healthyThreshold: 1, unhealthyThreshold: 1 } },
      },
    },
    consumers: [
      { id: 'alice', groups: ['staff'], credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] },
      { id: 'bob', groups: ['partners'], credentials: [{ type: 'api-key', key: 'bob-key-0123456789' }] },
    ],
    routes: [
      { name: 'keyed', match: { hosts: ['keyed.test'], paths: ECHO }, service: 'echo', policies: [{ type: 'key-auth' }] },
      {
        name: 'staff',
        match: { hosts: ['staff.test'], paths: ECHO },
        service: 'echo',
        policies: [{ type: 'key-auth' }, { type: 'acl', allow: ['staff'] }],
      },
      {
        name: 'limited',
        match: { hosts: ['limited.test'], paths: ECHO },
        service: 'echo',
        policies: [{ type: 'rate-limit', algorithm: 'fixed-window', limit: 1, window: '1h', by: 'ip' }],
      },
      { name: 'down', match: { hosts: ['down.test'], paths: ECHO }, service: 'down' },
      { name: 'tripping', match: { hosts: ['tripping.test'], paths: ECHO }, service: 'tripping' },
      { name: 'unhealthy', match: { hosts: ['unhealthy.test'], paths: ECHO }, service: 'unhealthy' },
      { name: 'graphql', match: { hosts: ['graphql.test'], paths: ECHO }, service: 'echo', policies: [{ type: 'graphql' }] },
      { name: 'open', match: { hosts: ['open.test'], paths: ECHO }, service: 'echo' },
    ],
  });
});

after(async () => {
  for (const c of clients) c.close();
  await gw.stop();
  await svc.close();
});

function clientFor(host: string): EchoClient {
  const c = echoClient(`127.0.0.1:${gw.port}`, host);
  clients.push(c);
  return c;
}

function withKey(key: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-api-key', key);
  return md;
}

test('key-auth without a key: UNAUTHENTICATED; with one the call goes through', async () => {
  const c = clientFor('keyed.test');
  const r = await unary(c, { text: 'x' });
  assert.equal(r.error!.code, grpc.status.UNAUTHENTICATED);
  assert.equal(r.error!.details, 'Authentication is required to access this resource.');
  assert.ok(r.error!.metadata.get('x-request-id')[0], 'the request id is in the trailers-only head');
  const ok = await unary(c, { text: 'x' }, { metadata: withKey('alice-key-0123456789') });
  assert.equal(ok.error, undefined);
  assert.equal(ok.reply!.text, 'x');
});

test('acl forbids: PERMISSION_DENIED', async () => {
  const c = clientFor('staff.test');
  const r = await unary(c, { text: 'x' }, { metadata: withKey('bob-key-0123456789') });
  assert.equal(r.error!.code, grpc.status.PERMISSION_DENIED);
  assert.equal(r.error!.details, 'You are not allowed to access this resource.');
});

test('rate-limit: RESOURCE_EXHAUSTED, Retry-After in the metadata', async () => {
  const c = clientFor('limited.test');
  const first = await unary(c, { text: 'x' });
  assert.equal(first.error, undefined);
  const r = await unary(c, { text: 'x' });
  assert.equal(r.error!.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(r.error!.details, 'Rate limit exceeded; retry after the time in Retry-After.');
  assert.ok(Number(r.error!.metadata.get('retry-after')[0]) > 0);
});

test('no route: UNIMPLEMENTED', async () => {
  const c = clientFor('nowhere.test');
  const r = await unary(c, { text: 'x' });
  assert.equal(r.error!.code, grpc.status.UNIMPLEMENTED);
  assert.equal(r.error!.details, 'No route matches this request.');
});

test('a streaming call refused: the client sees the status, the stream ends', async () => {
  const c = clientFor('keyed.test');
  const err = await new Promise<grpc.ServiceError>((resolve) => {
    const call = c.ClientStream(new grpc.Metadata(), {}, (e) => resolve(e!));
    call.write({ text: 'a', payload: Buffer.alloc(100_000) });
  });
  assert.equal(err.code, grpc.status.UNAUTHENTICATED);
  assert.equal(err.details, 'Authentication is required to access this resource.');
});

test('the service down: UNAVAILABLE; its circuit open: UNAVAILABLE, saying so', async () => {
  const down = await unary(clientFor('down.test'), { text: 'x' });
  assert.equal(down.error!.code, grpc.status.UNAVAILABLE);
  assert.equal(down.error!.details, 'The upstream service could not be reached.');
  const c = clientFor('tripping.test');
  const first = await unary(c, { text: 'x' });
  assert.equal(first.error!.code, grpc.status.UNAVAILABLE);
  const open = await unary(c, { text: 'x' });
  assert.equal(open.error!.code, grpc.status.UNAVAILABLE);
  assert.equal(open.error!.details, 'The upstream service is failing; calls to it are paused.');
});

test('no healthy target (active checks failed): UNAVAILABLE, saying so', async () => {
  const c = clientFor('unhealthy.test');
  const r = await waitFor('the target marked unhealthy', async () => {
    const out = await unary(c, { text: 'x' });
    return out.error?.details === 'No healthy instance of the upstream service is available.' ? out : undefined;
  });
  assert.equal(r.error!.code, grpc.status.UNAVAILABLE);
});

test('a policy verdict with a literal body (GraphQL’s) is a gRPC status too', async () => {
  const r = await unary(clientFor('graphql.test'), { text: 'x' });
  assert.equal(r.error!.code, grpc.status.INVALID_ARGUMENT);
  assert.match(r.error!.details, /GraphQL/);
});

test('on the wire: HTTP 200, trailers-only (END_STREAM on the one HEADERS frame), percent-encoded message, no body', async () => {
  const session = http2.connect(`http://127.0.0.1:${gw.port}`);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/gatehouse.test.Echo/Unary',
      ':authority': 'staff.test',
      'content-type': 'application/grpc',
      te: 'trailers',
      'x-api-key': 'bob-key-0123456789',
    });
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
    let body = 0;
    stream.on('data', (d: Buffer) => (body += d.length));
    const [headers, flags] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders, number];
    await once(stream, 'close');
    assert.equal(headers[':status'], 200);
    assert.equal(headers['content-type'], 'application/grpc');
    assert.equal(headers['grpc-status'], '7');
    assert.equal(headers['grpc-message'], 'You are not allowed to access this resource.');
    assert.ok(flags & http2.constants.NGHTTP2_FLAG_END_STREAM);
    assert.equal(body, 0);
  } finally {
    session.close();
  }
});

test('HTTP/1.1 with a gRPC or gRPC-Web content-type gets the gRPC form too; other requests keep the JSON error', async () => {
  const grpcLike = await request(`${gw.url}/gatehouse.test.Echo/Unary`, {
    method: 'POST',
    headers: { host: 'nowhere.test', 'content-type': 'application/grpc+proto' },
    body: Buffer.alloc(5),
  });
  assert.equal(grpcLike.statusCode, 200);
  assert.equal(grpcLike.headers['grpc-status'], '12');
  assert.equal(await grpcLike.body.text(), '');
  // A gRPC-Web call (grpc-web policy) is refused in its own protocol, on any route or none: trailers-only.
  const web = await request(`${gw.url}/gatehouse.test.Echo/Unary`, {
    method: 'POST',
    headers: { host: 'nowhere.test', 'content-type': 'application/grpc-web-text' },
    body: 'AAAAAAA=',
  });
  assert.equal(web.statusCode, 200);
  assert.equal(web.headers['content-type'], 'application/grpc-web-text+proto');
  assert.equal(web.headers['grpc-status'], '12');
  assert.equal(await web.body.text(), '');
  for (const ct of ['application/json', 'application/grpc-webfoo']) {
    const plain = await request(`${gw.url}/gatehouse.test.Echo/Unary`, {
      method: 'POST',
      headers: { host: 'nowhere.test', 'content-type': ct },
      body: '{}',
    });
    assert.equal(plain.statusCode, 404);
    assert.equal(((await plain.body.json()) as { error: { code: string } }).error.code, 'GW_ROUTE_NOT_FOUND');
  }
});

test('a service’s trailers-only answer to a call still sending: the client’s stream is ended (RST_STREAM NO_ERROR), not left open', async () => {
  // grpc-js answers an unknown method at once, trailers-only, while the client may still be sending.
  // The gateway relays that head as one HEADERS frame with END_STREAM and must then tell the client to
  // stop (as after its own refusals); the stream was left half-open when the head had gone out first.
  const session = http2.connect(`http://127.0.0.1:${gw.port}`);
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/gatehouse.test.Echo/NoSuchMethod',
      ':authority': 'open.test',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.write(Buffer.from([0, 0, 0, 0, 0])); // one empty message; the client does not end
    stream.resume();
    const [headers, flags] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders, number];
    assert.equal(headers['grpc-status'], '12');
    assert.ok(flags & http2.constants.NGHTTP2_FLAG_END_STREAM);
    await once(stream, 'close');
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  } finally {
    session.destroy();
  }
});

test('a GET (or HEAD) with a gRPC content-type is no gRPC call: its refusal keeps the HTTP status and JSON error', async () => {
  // gRPC calls are POSTs. Answered in gRPC form (HTTP 200, empty body), a refused GET would read as a
  // success to any cache in front of the gateway: a client setting the content-type could have an
  // empty 200 stored for a URL in place of its 401/429/503.
  for (const method of ['GET', 'HEAD'] as const) {
    const r = await request(`${gw.url}/gatehouse.test.Echo/Unary`, {
      method,
      headers: { host: 'keyed.test', 'content-type': 'application/grpc' },
    });
    assert.equal(r.statusCode, 401, method);
    assert.equal(r.headers['grpc-status'], undefined, method);
    await r.body.dump();
  }
  const session = http2.connect(`http://127.0.0.1:${gw.port}`);
  try {
    const stream = session.request({
      ':method': 'GET',
      ':path': '/gatehouse.test.Echo/Unary',
      ':authority': 'keyed.test',
      'content-type': 'application/grpc',
    });
    stream.resume();
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    assert.equal(headers[':status'], 401);
    assert.equal(headers['grpc-status'], undefined);
  } finally {
    session.destroy();
  }
});
