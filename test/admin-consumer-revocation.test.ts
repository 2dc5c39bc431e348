// A consumer edit is applied as a change of the running registry, not a recompile: every cache an
// authenticator keeps must follow it at once. A deleted consumer's JWT stops working, a consumer's
// new groups apply to a token already verified, and a Basic password tried before it was set works
// once it is. Also: If-None-Match compares weakly (RFC 9110 §13.1.2), consumer metadata is
// redacted like GET /config redacts it, and a credential added after a deletion gets a free id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { SignJWT } from 'jose';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';
import { hashPassword } from '../src/identity/secrets.js';

const HS_SECRET = 'an-hmac-secret-of-at-least-32-bytes!!';

let up: Upstream;
let gw: TestGateway;

before(async () => {
  up = await startUpstream();
  gw = await startTestGateway({
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [
      { id: 'carol', groups: ['staff'] },
      { id: 'erin', groups: ['staff'] },
      { id: 'dave', credentials: [{ type: 'basic', id: 'dave-basic', username: 'dave', password: hashPassword('old-password') }] },
      { id: 'frank', metadata: { note: 'plain', apiKey: 'metadata-secret-value' } },
      { id: 'gina' },
      {
        id: 'hank',
        credentials: [
          { type: 'api-key', key: 'hank-key-zero-0123456789' },
          { type: 'api-key', key: 'hank-key-one-0123456789' },
        ],
      },
    ],
    routes: [
      {
        name: 'jwt',
        match: { paths: ['/jwt/*'] },
        service: 'up',
        policies: [{ type: 'jwt', algorithms: ['HS256'], keys: [{ secret: HS_SECRET }] }],
      },
      {
        name: 'staff',
        match: { paths: ['/staff/*'] },
        service: 'up',
        policies: [
          { type: 'jwt', algorithms: ['HS256'], keys: [{ secret: HS_SECRET }] },
          { type: 'acl', allow: ['staff'] },
        ],
      },
      { name: 'basic', match: { paths: ['/basic/*'] }, service: 'up', policies: [{ type: 'basic-auth' }] },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

function token(sub: string): Promise<string> {
  return new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(Buffer.from(HS_SECRET));
}

async function get(path: string, authorization: string): Promise<number> {
  const res = await request(gw.url + path, { headers: { authorization } });
  await res.body.dump();
  return res.statusCode;
}

async function admin(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await request(gw.adminUrl + path, {
    method: method as 'GET',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, etag: res.headers.etag as string | undefined, text: await res.body.text() };
}

test('a deleted consumer’s JWT, already verified once, is refused at once', async () => {
  const bearer = `Bearer ${await token('carol')}`;
  assert.equal(await get('/jwt/x', bearer), 200);
  assert.equal(await get('/jwt/x', bearer), 200, 'now in the verified-token cache');
  const deleted = await admin('DELETE', '/consumers/carol');
  assert.equal(deleted.status, 200, deleted.text);
  assert.equal(await get('/jwt/x', bearer), 401, 'the token names a consumer that no longer exists');
});

test('a consumer’s groups changed by an edit apply to a JWT already verified', async () => {
  const bearer = `Bearer ${await token('erin')}`;
  assert.equal(await get('/staff/x', bearer), 200);
  const changed = await admin('PUT', '/consumers/erin', { groups: [] });
  assert.equal(changed.status, 200, changed.text);
  assert.equal(await get('/staff/x', bearer), 403, 'erin is no longer in staff');
});

test('a Basic password refused before a rotation is accepted once the rotation sets it', async () => {
  const basic = (password: string) => `Basic ${Buffer.from(`dave:${password}`).toString('base64')}`;
  assert.equal(await get('/basic/x', basic('old-password')), 200);
  assert.equal(await get('/basic/x', basic('new-password')), 401, 'not yet the password');
  const rotated = await admin('PUT', '/consumers/dave/credentials/dave-basic', {
    type: 'basic',
    username: 'dave',
    password: hashPassword('new-password'),
  });
  assert.equal(rotated.status, 200, rotated.text);
  assert.equal(await get('/basic/x', basic('new-password')), 200, 'the new password works at once');
  assert.equal(await get('/basic/x', basic('old-password')), 401, 'the old one does not');
});

test('If-None-Match compares weakly: W/"<current ETag>" on a PUT is 412', async () => {
  const read = await admin('GET', '/consumers/gina');
  assert.equal(read.status, 200);
  const weak = `W/${read.etag!}`;
  const put = await admin('PUT', '/consumers/gina', { groups: ['x'] }, { 'if-none-match': weak });
  assert.equal(put.status, 412, put.text);
  assert.equal((await admin('GET', '/consumers/gina')).etag, read.etag, 'nothing changed');
  // A weak tag still never satisfies If-Match (strong comparison).
  const strong = await admin('PUT', '/consumers/gina', { groups: ['x'] }, { 'if-match': weak });
  assert.equal(strong.status, 412, strong.text);
});

test('consumer metadata is redacted in consumer answers as GET /config redacts it', async () => {
  for (const path of ['/consumers', '/consumers/frank', '/consumers?limit=10']) {
    const res = await admin('GET', path);
    assert.equal(res.status, 200);
    assert.ok(!res.text.includes('metadata-secret-value'), `${path} shows a metadata secret`);
    assert.ok(res.text.includes('plain'), `${path} still shows the rest of the metadata`);
  }
  assert.ok(!(await admin('GET', '/config')).text.includes('metadata-secret-value'));
});

test('a credential added without an id after an earlier one was deleted gets a free id (not 409)', async () => {
  const deleted = await admin('DELETE', '/consumers/hank/credentials/hank:api-key:0');
  assert.equal(deleted.status, 200, deleted.text);
  const added = await admin('POST', '/consumers/hank/credentials', { type: 'api-key', key: 'hank-key-two-0123456789' });
  assert.equal(added.status, 201, added.text);
  const id = (JSON.parse(added.text) as { id: string }).id;
  assert.notEqual(id, 'hank:api-key:1', 'the id the remaining credential already has');
  const listed = JSON.parse((await admin('GET', '/consumers/hank/credentials')).text) as { credentials: { id: string }[] };
  assert.deepEqual(listed.credentials.map((c) => c.id).sort(), ['hank:api-key:1', id].sort());
});

test('concurrent edits of one consumer: none lost without If-Match, exactly one applied with the same If-Match', async () => {
  const created = await admin('PUT', '/consumers/ivan', { groups: [] });
  assert.equal(created.status, 201, created.text);
  const adds = await Promise.all(
    Array.from({ length: 8 }, (_, i) => admin('POST', '/consumers/ivan/credentials', { type: 'api-key', key: `ivan-key-${i}-0123456789` })),
  );
  assert.deepEqual(
    adds.map((a) => a.status),
    Array(8).fill(201),
  );
  const listed = JSON.parse((await admin('GET', '/consumers/ivan/credentials')).text) as { credentials: { id: string }[] };
  assert.equal(new Set(listed.credentials.map((c) => c.id)).size, 8, 'every credential kept, each with its own id');
  const read = await admin('GET', '/consumers/ivan');
  const puts = await Promise.all(
    Array.from({ length: 5 }, (_, i) => admin('PUT', '/consumers/ivan', { groups: [`g${i}`] }, { 'if-match': `"nope", ${read.etag!}` })),
  );
  assert.deepEqual(puts.map((p) => p.status).sort(), [200, 412, 412, 412, 412]);
});
