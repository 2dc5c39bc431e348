// key-auth, basic-auth, acl, anyOf/allOf and anonymous over real HTTP/1.1 and HTTP/2: identity
// headers reach the upstream, credentials do not, client-forged identity headers never do, and
// every refusal is a 401/403 that the counting upstream never sees.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';
import { bothClients, type TestClient } from './helpers/clients.js';
import { hashApiKey, hashPassword } from '../src/identity/secrets.js';

let up: Upstream;
let gw: TestGateway;

before(async () => {
  up = await startUpstream();
  gw = await startTestGateway({
    listen: [{ port: 0, host: '127.0.0.1', http2: true }],
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [
      {
        id: 'alice',
        username: 'alice@example.com',
        groups: ['staff', 'beta'],
        plan: 'gold',
        credentials: [
          { type: 'api-key', key: 'alice-key-0123456789' },
          { type: 'basic', id: 'alice-basic', username: 'alice', password: 'correct horse battery' },
        ],
      },
      {
        id: 'bob',
        groups: ['partners'],
        credentials: [
          { type: 'api-key', key: hashApiKey('bob-key-0123456789') },
          { type: 'basic', username: 'bob', password: hashPassword('bob-secret', 1024) },
        ],
      },
      { id: 'guest', groups: ['public'] },
    ],
    routes: [
      {
        name: 'keys',
        match: { paths: ['/keys/*'] },
        service: 'up',
        policies: [{ type: 'key-auth', headers: ['x-api-key', 'apikey'], query: 'api_key' }],
      },
      { name: 'visible', match: { paths: ['/visible/*'] }, service: 'up', policies: [{ type: 'key-auth', hideCredentials: false }] },
      { name: 'basic', match: { paths: ['/basic/*'] }, service: 'up', policies: [{ type: 'basic-auth', realm: 'api' }] },
      { name: 'staff', match: { paths: ['/staff/*'] }, service: 'up', policies: [{ type: 'key-auth' }, { type: 'acl', allow: ['staff'] }] },
      {
        name: 'nobeta',
        match: { paths: ['/nobeta/*'] },
        service: 'up',
        policies: [{ type: 'key-auth' }, { type: 'acl', allow: ['staff', 'partners'], deny: ['beta'] }],
      },
      {
        name: 'either',
        match: { paths: ['/either/*'] },
        service: 'up',
        policies: [{ type: 'auth', anyOf: [{ type: 'key-auth' }, { type: 'basic-auth' }] }],
      },
      {
        name: 'both',
        match: { paths: ['/both/*'] },
        service: 'up',
        policies: [{ type: 'auth', allOf: [{ type: 'key-auth' }, { type: 'basic-auth' }] }],
      },
      { name: 'optional', match: { paths: ['/optional/*'] }, service: 'up', policies: [{ type: 'key-auth', anonymous: 'guest' }] },
      { name: 'open', match: { paths: ['/open/*'] }, service: 'up' },
    ],
  });
});

const clients = bothClients();
/** The client of the describe block running. */
let client: TestClient = clients[0]!;

after(async () => {
  for (const c of clients) await c.close();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

async function call(path: string, headers: Record<string, string> = {}) {
  const before = up.hits;
  const res = await client.request(gw.url + path, { headers });
  const text = await res.body.text();
  const reached = up.hits > before;
  return { status: res.statusCode, headers: res.headers, text, reached, seen: reached ? up.seen.at(-1)! : undefined };
}

const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

for (const c of clients) {
  describe(`over ${c.name}`, () => {
    before(() => (client = c));

    describe('key-auth', () => {
      test('a valid key reaches the upstream with the identity headers and without the key', async () => {
        const r = await call('/keys/a', { 'x-api-key': 'alice-key-0123456789' });
        assert.equal(r.status, 200);
        const h = r.seen!.headers;
        assert.equal(h['x-consumer-id'], 'alice');
        assert.equal(h['x-consumer-username'], 'alice@example.com');
        assert.equal(h['x-consumer-groups'], 'staff, beta');
        assert.equal(h['x-credential-id'], 'alice:api-key:0');
        assert.equal(h['x-api-key'], undefined);
      });

      test('a key stored as sha256 works; a second header name and the query parameter work and are hidden', async () => {
        let r = await call('/keys/b', { apikey: 'bob-key-0123456789' });
        assert.equal(r.status, 200);
        assert.equal(r.seen!.headers['x-consumer-id'], 'bob');
        assert.equal(r.seen!.headers.apikey, undefined);
        r = await call('/keys/q?x=1&api_key=bob-key-0123456789&y=2');
        assert.equal(r.status, 200);
        assert.equal(r.seen!.url, '/keys/q?x=1&y=2');
        // Another spelling of the name is the same parameter to the upstream: it never gets through.
        r = await call('/keys/q?api_key=bob-key-0123456789&api%5Fkey=zzz');
        assert.equal(r.status, 200);
        assert.equal(r.seen!.url, '/keys/q');
        r = await call('/keys/q?api%5Fkey=bob-key-0123456789');
        assert.equal(r.status, 200);
        // An empty first header does not hide a key in the second.
        r = await call('/keys/b', { 'x-api-key': '', apikey: 'bob-key-0123456789' });
        assert.equal(r.status, 200);
      });

      test('hideCredentials: false forwards the key', async () => {
        const r = await call('/visible/a', { 'x-api-key': 'alice-key-0123456789' });
        assert.equal(r.status, 200);
        assert.equal(r.seen!.headers['x-api-key'], 'alice-key-0123456789');
      });

      test('missing, unknown, or the hash itself as key: 401 with a challenge, same body, no upstream hit', async () => {
        const bodies = new Set<string>();
        for (const headers of [
          {},
          { 'x-api-key': 'nope' },
          { 'x-api-key': hashApiKey('bob-key-0123456789') },
          { 'x-api-key': 'alice-key-012345678' },
          { 'x-api-key': '' },
        ] as Record<string, string>[]) {
          const r = await call('/keys/a', headers);
          assert.equal(r.status, 401, JSON.stringify(headers));
          assert.equal(r.reached, false);
          assert.match(String(r.headers['www-authenticate']), /^ApiKey realm="gatehouse", header="x-api-key"$/);
          const body = JSON.parse(r.text) as { error: { code: string; message: string } };
          assert.equal(body.error.code, 'GW_UNAUTHORIZED');
          bodies.add(body.error.message);
        }
        assert.equal(bodies.size, 1);
      });
    });

    describe('identity headers from clients', () => {
      test('are removed on a route without auth', async () => {
        const r = await call('/open/x', {
          'x-consumer-id': 'admin',
          'X-Consumer-Groups': 'root',
          'x-credential-id': 'c',
          'x-authenticated-scopes': 'all',
          'x-consumer-username': 'root',
          'x-anonymous-consumer': 'false',
        });
        assert.equal(r.status, 200);
        for (const h of [
          'x-consumer-id',
          'x-consumer-groups',
          'x-credential-id',
          'x-authenticated-scopes',
          'x-consumer-username',
          'x-anonymous-consumer',
        ]) {
          assert.equal(r.seen!.headers[h], undefined, h);
        }
      });

      test('are replaced by the verified ones on an authenticated route', async () => {
        const r = await call('/keys/a', { 'x-api-key': 'bob-key-0123456789', 'x-consumer-id': 'alice', 'x-consumer-groups': 'staff' });
        assert.equal(r.seen!.headers['x-consumer-id'], 'bob');
        assert.equal(r.seen!.headers['x-consumer-groups'], 'partners');
        assert.equal(r.seen!.rawHeaders.filter((h) => h.toLowerCase() === 'x-consumer-id').length, 1);
      });
    });

    describe('basic-auth', () => {
      test('plain and scrypt passwords', async () => {
        let r = await call('/basic/a', { authorization: basic('alice', 'correct horse battery') });
        assert.equal(r.status, 200);
        assert.equal(r.seen!.headers['x-credential-id'], 'alice-basic');
        assert.equal(r.seen!.headers.authorization, undefined);
        r = await call('/basic/a', { authorization: basic('bob', 'bob-secret') });
        assert.equal(r.status, 200);
        assert.equal(r.seen!.headers['x-consumer-id'], 'bob');
        r = await call('/basic/a', { authorization: basic('bob', 'bob-secret') }); // remembered
        assert.equal(r.status, 200);
      });

      test('wrong password, unknown user, malformed: 401 Basic challenge, no upstream hit', async () => {
        for (const a of [
          basic('alice', 'wrong'),
          basic('bob', 'bob-secreT'),
          basic('mallory', 'x'),
          'Basic !!!',
          'Basic ' + Buffer.from('nocolon').toString('base64'),
          'Bearer abc',
          '',
        ]) {
          const r = await call('/basic/a', a ? { authorization: a } : {});
          assert.equal(r.status, 401, a);
          assert.equal(r.reached, false);
          assert.equal(r.headers['www-authenticate'], 'Basic realm="api", charset="UTF-8"');
        }
      });
    });

    describe('acl', () => {
      test('allow and deny groups: 403 for a known caller, 401 for none', async () => {
        assert.equal((await call('/staff/a', { 'x-api-key': 'alice-key-0123456789' })).status, 200);
        const bob = await call('/staff/a', { 'x-api-key': 'bob-key-0123456789' });
        assert.equal(bob.status, 403);
        assert.equal(bob.reached, false);
        assert.equal((JSON.parse(bob.text) as { error: { code: string } }).error.code, 'GW_FORBIDDEN');
        assert.equal((await call('/staff/a')).status, 401);
        // deny wins over allow
        assert.equal((await call('/nobeta/a', { 'x-api-key': 'alice-key-0123456789' })).status, 403);
        assert.equal((await call('/nobeta/a', { 'x-api-key': 'bob-key-0123456789' })).status, 200);
      });
    });

    describe('several methods', () => {
      test('anyOf: either credential works; neither is a 401 naming both schemes', async () => {
        assert.equal((await call('/either/a', { 'x-api-key': 'alice-key-0123456789' })).seen?.headers['x-consumer-id'], 'alice');
        assert.equal((await call('/either/a', { authorization: basic('bob', 'bob-secret') })).seen?.headers['x-consumer-id'], 'bob');
        const r = await call('/either/a', { 'x-api-key': 'wrong' });
        assert.equal(r.status, 401);
        assert.equal(r.reached, false);
        assert.match(String(r.headers['www-authenticate']), /ApiKey .*Basic /);
      });

      test('allOf: both are needed', async () => {
        assert.equal((await call('/both/a', { 'x-api-key': 'alice-key-0123456789' })).status, 401);
        const r = await call('/both/a', { 'x-api-key': 'alice-key-0123456789', authorization: basic('alice', 'correct horse battery') });
        assert.equal(r.status, 200);
        assert.equal(r.seen!.headers['x-api-key'], undefined);
        assert.equal(r.seen!.headers.authorization, undefined);
        // Both valid, but of two different consumers: not one caller.
        const mixed = await call('/both/a', { 'x-api-key': 'alice-key-0123456789', authorization: basic('bob', 'bob-secret') });
        assert.equal(mixed.status, 401);
        assert.equal(mixed.reached, false);
      });

      test('anonymous: no or a bad credential passes as the anonymous consumer, flagged', async () => {
        let r = await call('/optional/a');
        assert.equal(r.status, 200);
        assert.equal(r.seen!.headers['x-consumer-id'], 'guest');
        assert.equal(r.seen!.headers['x-anonymous-consumer'], 'true');
        r = await call('/optional/a', { 'x-api-key': 'alice-key-0123456789' });
        assert.equal(r.seen!.headers['x-consumer-id'], 'alice');
        assert.equal(r.seen!.headers['x-anonymous-consumer'], undefined);
      });
    });
  });
}
