// gRPC↔JSON transcoding (`type: grpc-transcode`) against a real @grpc/grpc-js service, from its
// annotated .proto (test/fixtures/grpc/users.proto): every kind of HTTP rule, the proto3 JSON
// mapping both ways, errors with google.rpc.Status details, server streams as NDJSON and SSE,
// refusals before the service is called, limits, deadlines and cancellation, HTTP/2, a
// response-transformer after the transcoding, and native gRPC on the same route.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startUsersService, usersClient, USERS_PROTO, type UsersService } from './helpers/users-grpc.js';
import { http2Client } from './helpers/clients.js';

let svc: UsersService;
let gw: TestGateway;
let base: string;
const h2 = http2Client();
const transcode = { type: 'grpc-transcode', protos: [USERS_PROTO], services: ['acme.users.v1.Users'] };

before(async () => {
  svc = await startUsersService();
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: {
      users: { protocol: 'h2c', targets: [{ url: svc.url }] },
      slow: { protocol: 'h2c', targets: [{ url: svc.url }], timeouts: { response: '300ms' } },
    },
    routes: [
      {
        name: 'small',
        match: { paths: ['/small/v1/*'] },
        service: 'users',
        policies: [{ ...transcode, pathPrefix: '/small', maxMessage: '1kb' }],
      },
      { name: 'slow', match: { paths: ['/slow/v1/*'] }, service: 'slow', policies: [{ ...transcode, pathPrefix: '/slow' }] },
      {
        name: 'shaped',
        match: { paths: ['/shaped/v1/*'] },
        service: 'users',
        policies: [
          { ...transcode, pathPrefix: '/shaped' },
          { type: 'response-transformer', body: { set: { 'meta.via': 'gatehouse' } } },
        ],
      },
      {
        name: 'events',
        match: { paths: ['/events/v1/*'] },
        service: 'users',
        policies: [{ ...transcode, pathPrefix: '/events', streamFormat: 'sse' }],
      },
      { name: 'users', match: { paths: ['/v1/*', '/acme.users.v1.Users/*'] }, service: 'users', policies: [transcode] },
    ],
  });
  base = `http://127.0.0.1:${gw.port}`;
});

after(async () => {
  await h2.close();
  await gw.stop();
  await svc.close();
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await request(`${base}${path}`, {
    method: method as 'GET',
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
  });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

test('GET with a path variable: the proto3 JSON mapping of every kind of field', async () => {
  const r = await call('GET', '/v1/users/42');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['grpc-status'], undefined, 'gRPC fields are not a JSON client’s');
  assert.deepEqual(r.json(), {
    id: '42', // int64 as a string
    displayName: 'Ada', // lowerCamel
    role: 'ADMIN', // enums by name
    avatar: Buffer.from('png!').toString('base64'),
    createdAt: '2026-01-01T00:00:00.500Z',
    session: '1.500s',
    age: 36, // a wrapper as its value
    profile: { langs: ['en', 2], admin: true },
    tags: ['org:', 'view:'],
    labels: { team: 'core' },
    extra: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' },
  });
});

test('additional_bindings, query parameters into fields (a FieldMask), unknown parameters refused', async () => {
  const r = await call('GET', '/v1/orgs/acme/users/7?view=displayName,role');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json().tags, ['org:acme', 'view:display_name|role']);
  const before = svc.calls.get('GetUser');
  const unknown = await call('GET', '/v1/users/7?colour=red');
  assert.equal(unknown.status, 400);
  assert.equal((unknown.json().error as { code: string }).code, 'GW_BAD_BODY');
  assert.match(unknown.text, /colour/);
  assert.equal(svc.calls.get('GetUser'), before, 'refused before the service is called');
});

test('POST with body "field": original and lowerCamel names, enums by number, wrappers; bad JSON refused first', async () => {
  const r = await call('POST', '/v1/users?validateOnly=true', { display_name: 'Grace', role: 2, age: 45, tags: ['x'] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json(), { id: '1000', displayName: 'Grace', role: 'MEMBER', age: 45, tags: ['validate_only:true'] });
  const before = svc.calls.get('CreateUser');
  for (const [body, pattern] of [
    ['{"displayName": ', /JSON|Unexpected/i],
    [{ displayName: 'x', nickname: 'y' }, /nickname/],
    [{ role: 'EMPEROR' }, /role|EMPEROR/],
    [{ age: 'old' }, /age/],
  ] as const) {
    const bad = await call('POST', '/v1/users', body);
    assert.equal(bad.status, 400, `${JSON.stringify(body)} → ${bad.text}`);
    assert.match(bad.text, pattern);
  }
  const notJson = await call('POST', '/v1/users', 'x=1', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(notJson.status, 415);
  assert.equal(svc.calls.get('CreateUser'), before, 'none reached the service');
});

test('PATCH with a nested path variable ({user.id}) wins over the body; body "*" with int64 and enums', async () => {
  const r = await call('PATCH', '/v1/users/5?updateMask=displayName', { id: '999', displayName: 'Renamed' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json(), { id: '5', displayName: 'Renamed', tags: ['display_name'] });
  const s = await call('POST', '/v1/users:search', { query: 'ada', limit: 2, role: 'ADMIN' });
  assert.equal(s.status, 200, s.text);
  assert.deepEqual(s.json(), {
    users: [
      { id: '1', displayName: 'ada', role: 'ADMIN' },
      { id: '2', displayName: 'ada', role: 'ADMIN' },
    ],
    total: '9007199254740993', // beyond 2^53: exact as a string
  });
});

test('an id no JSON number holds exactly, a key twice, two spellings of one query field: 400 before the service is called', async () => {
  const before = [svc.calls.get('CreateUser'), svc.calls.get('UpdateUser'), svc.calls.get('GetUser')];
  // JSON.parse would read 9007199254740993 as ...992: the service would get another id.
  const inexact = await call('POST', '/v1/users', '{"id":9007199254740993}');
  assert.equal(inexact.status, 400, inexact.text);
  assert.match(inexact.text, /9007199254740993/);
  const twice = await call('PATCH', '/v1/users/5', '{"displayName":"a","displayName":"b"}');
  assert.equal(twice.status, 400, twice.text);
  const spellings = await call('GET', '/v1/orgs/acme/users/7?delay_ms=0&delayMs=1');
  assert.equal(spellings.status, 400, spellings.text);
  assert.deepEqual([svc.calls.get('CreateUser'), svc.calls.get('UpdateUser'), svc.calls.get('GetUser')], before);
});

test('response_body answers with one field; DELETE answers the empty message', async () => {
  const r = await call('GET', '/v1/users/42/name');
  assert.equal(r.status, 200);
  assert.equal(r.text, '"Ada 42"');
  const d = await call('DELETE', '/v1/users/42');
  assert.equal(d.status, 200);
  assert.equal(d.text, '{}');
});

test('a gRPC error: its HTTP status, and google.rpc.Status with its details as JSON', async () => {
  const r = await call('GET', '/v1/users/404');
  assert.equal(r.status, 404);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.deepEqual(r.json(), {
    code: 5,
    message: 'no user 404',
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'USER_NOT_FOUND',
        domain: 'users.acme.example',
        metadata: { id: '404' },
      },
      { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'id', description: 'unknown id' }] },
    ],
  });
});

test('no rule for the path: 404; a path with rules for other methods: 405 with Allow', async () => {
  const none = await call('GET', '/v1/nothing/here');
  assert.equal(none.status, 404);
  assert.equal((none.json().error as { code: string }).code, 'GW_ROUTE_NOT_FOUND');
  const wrong = await call('PUT', '/v1/users/42', {});
  assert.equal(wrong.status, 405);
  assert.deepEqual(String(wrong.headers.allow).split(', ').sort(), ['DELETE', 'GET', 'PATCH']);
});

test('server streaming as NDJSON: one line per message, a failure after the first as an error line', async () => {
  const r = await call('GET', '/v1/users?count=3');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/x-ndjson');
  assert.deepEqual(
    r.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown),
    [1, 2, 3].map((i) => ({ id: String(i), displayName: `user ${i}` })),
  );
  const failing = await call('GET', '/v1/users?count=5&failAfter=2&failCode=14');
  const lines = failing.text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(failing.status, 200, 'the head went out with the first message');
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[2], { error: { code: 14, message: 'listing failed', details: [] } });
  const atOnce = await call('GET', '/v1/users?count=5&failAfter=0&failCode=7');
  assert.equal(atOnce.status, 403, 'no message yet: the status is the HTTP status');
  assert.equal(atOnce.json().code, 7);
});

test('server streaming as server-sent events: by Accept, or by the policy’s streamFormat', async () => {
  const byAccept = await call('GET', '/v1/users?count=2', undefined, { accept: 'text/event-stream' });
  assert.equal(byAccept.headers['content-type'], 'text/event-stream');
  assert.equal(byAccept.text, 'data: {"id":"1","displayName":"user 1"}\n\ndata: {"id":"2","displayName":"user 2"}\n\n');
  const failing = await call('GET', '/events/v1/users?count=3&failAfter=1&failCode=13');
  assert.equal(
    failing.text,
    'data: {"id":"1","displayName":"user 1"}\n\nevent: error\ndata: {"code":13,"message":"listing failed","details":[]}\n\n',
  );
});

test('messages stream: the first line arrives while the service is still producing', async () => {
  let ended = false;
  const onEnd = () => (ended = true);
  svc.events.on('ended', onEnd);
  const res = await request(`${base}/v1/users?count=2&delayMs=400`);
  const reader = res.body[Symbol.asyncIterator]();
  const first = await reader.next();
  assert.equal(Buffer.from(first.value as Buffer).toString(), '{"id":"1","displayName":"user 1"}\n');
  assert.equal(ended, false, 'the first message reached the client before the service ended its stream');
  let rest = '';
  for (let n = await reader.next(); !n.done; n = await reader.next()) rest += Buffer.from(n.value as Buffer).toString();
  assert.equal(rest, '{"id":"2","displayName":"user 2"}\n');
  svc.events.off('ended', onEnd);
});

test('a client that goes away cancels the call at the service', async () => {
  const cancelled = once(svc.events, 'cancelled');
  const ac = new AbortController();
  const res = await request(`${base}/v1/users?count=50&delayMs=100`, { signal: ac.signal });
  const reader = res.body[Symbol.asyncIterator]();
  await reader.next();
  ac.abort();
  assert.deepEqual(await cancelled, ['ListUsers']);
});

test('limits: a response message over maxMessage is 502; a service slower than its timeout is 504', async () => {
  const big = await call('GET', '/small/v1/users/1');
  assert.equal(big.status, 502);
  assert.equal((big.json().error as { code: string }).code, 'GW_UPSTREAM_BODY_TOO_LARGE');
  const fine = await call('GET', '/small/v1/users/2');
  assert.equal(fine.status, 200);
  const slow = await call('GET', '/slow/v1/users/2?delayMs=2000');
  assert.equal(slow.status, 504);
});

test('over HTTP/2, and with a response-transformer editing the transcoded JSON', async () => {
  const r = await h2.request(`${base}/v1/users/42/name`);
  assert.equal(r.statusCode, 200);
  assert.equal(await r.body.text(), '"Ada 42"');
  const shaped = await call('GET', '/shaped/v1/users:search', undefined);
  assert.equal(shaped.status, 405, 'a POST rule');
  const s = await call('POST', '/shaped/v1/users:search', { query: 'q', limit: 1 });
  assert.deepEqual(s.json(), { users: [{ id: '1', displayName: 'q' }], total: '9007199254740993', meta: { via: 'gatehouse' } });
});

test('native gRPC calls on the same route pass untouched (a method without an HTTP rule too)', async () => {
  const client = usersClient(svc.root, `127.0.0.1:${gw.port}`);
  try {
    const reply = await new Promise<Record<string, unknown>>((resolve, reject) =>
      (client as unknown as { CountUsers: (r: object, cb: (e: Error | null, v: Record<string, unknown>) => void) => void }).CountUsers(
        { query: 'x' },
        (err, v) => (err ? reject(err) : resolve(v)),
      ),
    );
    assert.equal(reply.total, '3');
  } finally {
    client.close();
  }
});

test('a JSON body over maxRequestBody is 413 before the service is called; the gateway keeps serving', async () => {
  const before = svc.calls.get('SearchUsers') ?? 0;
  const big = await call('POST', '/v1/users:search', { query: 'x'.repeat(2 * 1024 * 1024), limit: 1 });
  assert.equal(big.status, 413);
  assert.equal((big.json().error as { code: string }).code, 'GW_PAYLOAD_TOO_LARGE');
  assert.equal(svc.calls.get('SearchUsers') ?? 0, before);
  assert.equal((await call('GET', '/v1/users/42/name')).status, 200);
});
