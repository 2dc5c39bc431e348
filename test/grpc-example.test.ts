// examples/grpc.yaml as documented: one gRPC service (a real @grpc/grpc-js server serving
// examples/protos/users.proto) reached by a JSON client (transcoded), a browser (gRPC-Web, with a
// CORS preflight) and a gRPC client, each authenticated by the same key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import * as grpc from '@grpc/grpc-js';
import { loadConfigFile } from '../src/validation/load.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startUsersService, usersClient, type UsersService } from './helpers/users-grpc.js';
import { waitFor } from './helpers/child.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'example-key-0123456789';
let svc: UsersService;
let gw: TestGateway;
let base: string;

before(async () => {
  svc = await startUsersService(`${root}examples/protos/users.proto`);
  const r = await loadConfigFile(`${root}examples/grpc.yaml`, { USERS_GRPC_URL: svc.url, WEB_APP_KEY: KEY });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const c = r.config;
  gw = await startTestGateway({
    services: c.services,
    consumers: c.consumers,
    routes: c.routes,
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
  });
  base = `http://127.0.0.1:${gw.port}`;
  // The active gRPC health check marks the target healthy first.
  await waitFor(
    'the target healthy',
    async () => (await request(`${base}/v1/users/1`, { headers: { 'x-api-key': KEY } }).then((x) => (x.body.dump(), x.statusCode))) === 200,
  );
});

after(async () => {
  await gw.stop();
  await svc.close();
});

test('a JSON client: transcoded calls, unary and streaming, behind key-auth', async () => {
  const r = await request(`${base}/v1/orgs/acme/users/42?view=displayName`, { headers: { 'x-api-key': KEY } });
  const user = (await r.body.json()) as Record<string, unknown>;
  assert.equal(r.statusCode, 200);
  assert.equal(user.id, '42');
  assert.equal(user.role, 'ADMIN');
  assert.deepEqual(user.tags, ['org:acme', 'view:display_name']);
  const list = await request(`${base}/v1/users?count=2`, { headers: { 'x-api-key': KEY } });
  assert.equal(list.headers['content-type'], 'application/x-ndjson');
  assert.equal((await list.body.text()).trimEnd().split('\n').length, 2);
  const anonymous = await request(`${base}/v1/users/42`);
  await anonymous.body.dump();
  assert.equal(anonymous.statusCode, 401);
});

test('a browser: the CORS preflight, then a gRPC-Web call with the status exposed', async () => {
  const origin = 'https://app.example.com';
  const pre = await request(`${base}/acme.users.v1.Users/GetUser`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key,content-type,x-grpc-web' },
  });
  await pre.body.dump();
  assert.equal(pre.statusCode, 204);
  const message = svc.root.lookupType('acme.users.v1.GetUserRequest');
  const bytes = message.encode(message.fromObject({ id: '7' })).finish();
  const body = Buffer.concat([Buffer.from([0, 0, 0, 0, bytes.length]), bytes]);
  const r = await request(`${base}/acme.users.v1.Users/GetUser`, {
    method: 'POST',
    body,
    headers: { origin, 'x-api-key': KEY, 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' },
  });
  const answer = Buffer.from(await r.body.arrayBuffer());
  assert.equal(r.headers['content-type'], 'application/grpc-web+proto');
  assert.equal(r.headers['access-control-allow-origin'], origin);
  assert.match(String(r.headers['access-control-expose-headers']), /grpc-status/);
  const length = answer.readUInt32BE(1);
  const User = svc.root.lookupType('acme.users.v1.User');
  assert.equal((User.toObject(User.decode(answer.subarray(5, 5 + length)), { longs: String }) as { id: string }).id, '7');
  assert.match(answer.subarray(5 + length + 5).toString(), /grpc-status:0/);
});

test('a gRPC client: the native call, its key in the metadata', async () => {
  const client = usersClient(svc.root, `127.0.0.1:${gw.port}`) as unknown as grpc.Client & {
    GetUser(r: object, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, v: Record<string, unknown>) => void): void;
  };
  try {
    const md = new grpc.Metadata();
    md.set('x-api-key', KEY);
    const user = await new Promise<Record<string, unknown>>((resolve, reject) =>
      client.GetUser({ id: '9' }, md, (e, v) => (e ? reject(e) : resolve(v))),
    );
    assert.equal(user.id, '9');
    const refused = await new Promise<grpc.ServiceError>((resolve) => client.GetUser({ id: '9' }, new grpc.Metadata(), (e) => resolve(e!)));
    assert.equal(refused.code, grpc.status.UNAUTHENTICATED);
  } finally {
    client.close();
  }
});
