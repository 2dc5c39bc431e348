// oauth2-introspection against a real RFC 7662 server started here: client authentication,
// active/inactive answers, caching until exp (bounded by cacheTtl), one call for concurrent
// requests, scopes per method, and an unreachable endpoint failing closed.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';
import { introspectionAuthenticator, introspectionSchema } from '../src/policies/oauth2-introspection/oauth2-introspection.js';
import { ConsumerRegistry } from '../src/identity/registry.js';
import type { RequestContext } from '../src/policies/types.js';

interface Introspector {
  url: string;
  calls: number;
  auth: string[];
  close(): Promise<void>;
}

const now = () => Math.floor(Date.now() / 1000);
const TOKENS: Record<string, Record<string, unknown>> = {
  'tok-alice': { active: true, sub: 'alice', scope: 'read write', client_id: 'app', exp: now() + 3600, email: 'alice@example.com' },
  'tok-read': { active: true, sub: 'alice', scope: 'read', exp: now() + 3600 },
  'tok-nobody': { active: true, sub: 'nobody', scope: 'read', exp: now() + 3600 },
  'tok-expired': { active: true, sub: 'alice', exp: now() - 10 },
};

async function startIntrospector(): Promise<Introspector> {
  const s = { calls: 0, auth: [] as string[] } as Introspector;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      s.calls++;
      s.auth.push(req.headers.authorization ?? '');
      if (req.headers.authorization !== 'Basic ' + Buffer.from('gatehouse:s3cret').toString('base64')) {
        res.writeHead(401).end();
        return;
      }
      const form = new URLSearchParams(body);
      const answer = TOKENS[form.get('token') ?? ''] ?? { active: false };
      // A little latency, so concurrent requests overlap.
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer)), 30);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
  s.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return s;
}

let up: Upstream;
let idp: Introspector;
let gw: TestGateway;

before(async () => {
  up = await startUpstream();
  idp = await startIntrospector();
  const base = { type: 'oauth2-introspection', endpoint: idp.url, clientId: 'gatehouse', clientSecret: 's3cret' };
  gw = await startTestGateway({
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'alice', groups: ['staff'] }],
    routes: [
      {
        name: 'api',
        match: { paths: ['/api/*'] },
        service: 'up',
        policies: [
          {
            ...base,
            requireScopes: ['read'],
            methods: { DELETE: { requireScopes: ['write'] } },
            claimHeaders: { 'x-user-email': 'email' },
          },
        ],
      },
      { name: 'badclient', match: { paths: ['/badclient/*'] }, service: 'up', policies: [{ ...base, clientSecret: 'wrong' }] },
      {
        name: 'down',
        match: { paths: ['/down/*'] },
        service: 'up',
        policies: [{ ...base, endpoint: 'http://127.0.0.1:1/introspect', timeout: '1s' }],
      },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  await maybeUnset(idp)?.close();
});

async function call(path: string, token?: string, method = 'GET') {
  const before = up.hits;
  const res = await request(gw.url + path, { method: method as 'GET', headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    reached: up.hits > before,
    seen: up.hits > before ? up.seen.at(-1)! : undefined,
  };
}

test('an active token: identity, scopes and claim header reach the upstream; the answer is cached', async () => {
  const before = idp.calls;
  const r = await call('/api/a', 'tok-alice');
  assert.equal(r.status, 200);
  assert.equal(r.seen!.headers['x-consumer-id'], 'alice');
  assert.equal(r.seen!.headers['x-authenticated-scopes'], 'read write');
  assert.equal(r.seen!.headers['x-user-email'], 'alice@example.com');
  assert.equal(r.seen!.headers.authorization, undefined);
  for (let i = 0; i < 3; i++) assert.equal((await call('/api/a', 'tok-alice')).status, 200);
  assert.equal(idp.calls - before, 1);
  assert.equal(idp.auth.at(-1), 'Basic ' + Buffer.from('gatehouse:s3cret').toString('base64'));
});

test('concurrent requests with one token make one introspection call', async () => {
  const before = idp.calls;
  const results = await Promise.all(Array.from({ length: 5 }, () => call('/api/a', 'tok-read')));
  for (const r of results) assert.equal(r.status, 200);
  assert.equal(idp.calls - before, 1);
});

test('inactive, unknown-consumer, expired tokens, and a refused client: 401, upstream never called', async () => {
  for (const [path, t] of [
    ['/api/a', 'tok-unknown'],
    ['/api/a', 'tok-nobody'],
    ['/api/a', 'tok-expired'],
    ['/badclient/a', 'tok-alice'],
    ['/api/a', undefined],
  ] as const) {
    const r = await call(path, t);
    assert.equal(r.status, 401, `${path} ${t}`);
    assert.equal(r.reached, false);
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="gatehouse"');
  }
});

test('per-method scopes: DELETE needs write', async () => {
  const r = await call('/api/a', 'tok-read', 'DELETE');
  assert.equal(r.status, 403);
  assert.equal(r.reached, false);
  assert.equal((await call('/api/a', 'tok-alice', 'DELETE')).status, 200);
});

test('a cached answer lives until the token exp, and never beyond cacheTtl (injected clock)', async () => {
  let clock = Date.now();
  const cfg = introspectionSchema.parse({
    type: 'oauth2-introspection',
    endpoint: idp.url,
    clientId: 'gatehouse',
    clientSecret: 's3cret',
    cacheTtl: '10m',
    unknownConsumer: 'anonymous',
  });
  const a = introspectionAuthenticator(cfg, new ConsumerRegistry([]), { now: () => clock });
  const ctx = (token: string) =>
    ({ req: { rawHeaders: ['Authorization', `Bearer ${token}`] }, method: 'GET' }) as unknown as RequestContext;
  const ok = async (t: string) => (await a.authenticate(ctx(t))).ok;
  TOKENS['tok-clock'] = { active: true, sub: 'x', exp: Math.floor(clock / 1000) + 60 };
  assert.equal(await ok('tok-clock'), true);
  clock += 59_000;
  assert.equal(await ok('tok-clock'), true);
  assert.equal(a.calls(), 1); // cached
  clock += 2_000; // past exp: asks again, and the server's answer (exp in the past) is refused
  assert.equal(await ok('tok-clock'), false);
  assert.equal(a.calls(), 2);
  TOKENS['tok-long'] = { active: true, sub: 'x', exp: Math.floor(clock / 1000) + 86_400 };
  assert.equal(await ok('tok-long'), true);
  clock += 9 * 60_000;
  assert.equal(await ok('tok-long'), true);
  assert.equal(a.calls(), 3);
  clock += 2 * 60_000; // past cacheTtl: asks again
  assert.equal(await ok('tok-long'), true);
  assert.equal(a.calls(), 4);
});

test('an unreachable endpoint fails closed', async () => {
  const r = await call('/down/a', 'tok-alice');
  assert.equal(r.status, 401);
  assert.equal(r.reached, false);
});
