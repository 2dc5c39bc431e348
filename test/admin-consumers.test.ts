// Consumers through the admin API: created, changed and removed live (the data plane answers
// accordingly at once), secrets never in an answer, refusals that change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';

let up: Upstream;
let gw: TestGateway;

before(async () => {
  up = await startUpstream();
  gw = await startTestGateway({
    admin: { token: 'admin-token-123' },
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [
      { id: 'guest' },
      {
        id: 'alice',
        groups: ['staff'],
        credentials: [
          { type: 'api-key', key: 'alice-key-0123456789' },
          { type: 'api-key', key: 'alice-key-two-0123456789' },
        ],
      },
    ],
    routes: [{ name: 'api', match: { paths: ['/*'] }, service: 'up', policies: [{ type: 'key-auth' }] }],
    policies: [],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

interface ErrorJson {
  error: { code: string };
}
interface ConsumersJson {
  configVersion: number;
  consumers: { id: string }[];
}

async function admin(method: string, path: string, body?: unknown, token = 'admin-token-123') {
  const res = await request(gw.adminUrl + path, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: JSON.parse(text) as unknown };
}

async function withKey(key: string): Promise<{ status: number; consumer?: string; credential?: string }> {
  const res = await request(gw.url + '/x', { headers: { 'x-api-key': key } });
  await res.body.text();
  const seen = res.statusCode === 200 ? up.seen.at(-1)! : undefined;
  return {
    status: res.statusCode,
    consumer: seen?.headers['x-consumer-id'] as string,
    credential: seen?.headers['x-credential-id'] as string,
  };
}

test('needs the admin token', async () => {
  assert.equal((await admin('GET', '/consumers', undefined, 'wrong')).status, 401);
});

test('list and read: credentials without secrets', async () => {
  const r = await admin('GET', '/consumers');
  assert.equal(r.status, 200);
  assert.deepEqual(
    (r.json as ConsumersJson).consumers.map((c: { id: string }) => c.id),
    ['guest', 'alice'],
  );
  assert.doesNotMatch(r.text, /alice-key/);
  const a = await admin('GET', '/consumers/alice');
  assert.deepEqual((a.json as { credentials: unknown }).credentials, [
    { id: 'alice:api-key:0', type: 'api-key' },
    { id: 'alice:api-key:1', type: 'api-key' },
  ]);
  assert.equal(((await admin('GET', '/consumers/nobody')).json as ErrorJson).error.code, 'ADMIN_RESOURCE_NOT_FOUND');
  assert.equal(((await admin('GET', '/consumers/alice/credentials/alice:api-key:1')).json as { type: string }).type, 'api-key');
  const cfg = await request(gw.adminUrl + '/config', { headers: { authorization: 'Bearer admin-token-123' } });
  assert.doesNotMatch(await cfg.body.text(), /alice-key/);
});

test('create a consumer with a key: served at once; duplicate id 409; bad body 400 and nothing changes', async () => {
  assert.equal((await withKey('bob-key-0123456789')).status, 401);
  const r = await admin('POST', '/consumers', {
    id: 'bob',
    groups: ['partners'],
    credentials: [{ type: 'api-key', key: 'bob-key-0123456789' }],
  });
  assert.equal(r.status, 201, r.text);
  assert.doesNotMatch(r.text, /bob-key/);
  assert.equal((await withKey('bob-key-0123456789')).consumer, 'bob');
  assert.equal((await admin('POST', '/consumers', { id: 'bob' })).status, 409);
  const version = ((await admin('GET', '/consumers')).json as ConsumersJson).configVersion;
  const bad = await admin('POST', '/consumers', { id: 'carol', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] });
  assert.equal(bad.status, 400);
  assert.equal((bad.json as ErrorJson).error.code, 'CONFIG_INVALID');
  assert.doesNotMatch(bad.text, /alice-key/);
  assert.equal((await admin('POST', '/consumers', { id: 'carol', credentials: [{ type: 'api-key' }] })).status, 400);
  assert.equal(((await admin('GET', '/consumers')).json as ConsumersJson).configVersion, version);
});

test('credentials: add, remove (ids of the others stay), replace', async () => {
  const added = await admin('POST', '/consumers/alice/credentials', { type: 'api-key', key: 'alice-key-three-0123456789' });
  assert.equal(added.status, 201, added.text);
  assert.equal((added.json as { id: string }).id, 'alice:api-key:2');
  assert.equal((await withKey('alice-key-three-0123456789')).credential, 'alice:api-key:2');
  assert.equal((await admin('DELETE', '/consumers/alice/credentials/alice:api-key:0')).status, 200);
  assert.equal((await withKey('alice-key-0123456789')).status, 401);
  assert.equal((await withKey('alice-key-two-0123456789')).credential, 'alice:api-key:1');
  const put = await admin('PUT', '/consumers/alice/credentials/alice:api-key:1', { type: 'api-key', key: 'alice-rotated-0123456789' });
  assert.equal(put.status, 200, put.text);
  assert.equal((await withKey('alice-key-two-0123456789')).status, 401);
  assert.equal((await withKey('alice-rotated-0123456789')).credential, 'alice:api-key:1');
});

test('replace and delete a consumer', async () => {
  const r = await admin('PUT', '/consumers/bob', { groups: ['ops'], credentials: [{ type: 'api-key', key: 'bob-new-0123456789' }] });
  assert.equal(r.status, 200, r.text);
  assert.equal((await withKey('bob-key-0123456789')).status, 401);
  assert.equal((await withKey('bob-new-0123456789')).consumer, 'bob');
  assert.equal((await admin('DELETE', '/consumers/bob')).status, 200);
  assert.equal((await withKey('bob-new-0123456789')).status, 401);
  assert.equal((await admin('DELETE', '/consumers/bob')).status, 404);
  assert.equal((await admin('PATCH', '/consumers/alice')).status, 405);
});

test('a consumer edit racing with POST /config is made on the config that wins, never undoing it', async () => {
  for (let round = 0; round < 5; round++) {
    const base = {
      accessLog: false,
      listen: [{ port: 0, host: '127.0.0.1' }],
      admin: { port: 0, host: '127.0.0.1', token: 'admin-token-123' },
      log: { level: 'silent' },
      services: { up: { targets: [{ url: up.url }] } },
      consumers: [
        { id: 'guest' },
        {
          id: 'alice',
          groups: ['staff'],
          credentials: [
            { type: 'api-key', key: 'alice-key-0123456789' },
            { type: 'api-key', key: 'alice-key-two-0123456789' },
          ],
        },
      ],
      routes: [
        { name: 'api', match: { paths: ['/*'] }, service: 'up', policies: [{ type: 'key-auth' }] },
        { name: `extra-${round}`, match: { paths: [`/extra-${round}`] }, service: 'up' },
      ],
    };
    const [replaced, edited] = await Promise.all([admin('POST', '/config', base), admin('PUT', `/consumers/racer-${round}`, {})]);
    assert.equal(replaced.status, 200, replaced.text);
    assert.ok(edited.status === 200 || edited.status === 201, edited.text);
    const cfg = await admin('GET', '/config');
    assert.ok(
      (cfg.json as { routes: { name: string }[] }).routes.some((r: { name: string }) => r.name === `extra-${round}`),
      `round ${round}: the consumer edit undid POST /config`,
    );
  }
});
