// The policy on its own, against a real RFC 7662 endpoint on 127.0.0.1: how it asks (POST, form
// body, client credentials as HTTP Basic); an active token → the consumer's identity with scopes
// and claims; inactive, expired, unknown consumer, endpoint error, down, redirecting or too slow →
// 401 (fails closed); requireScopes → 403 with insufficient_scope; active answers cached until
// exp and at most cacheTtl (injected clock), inactive ones never; concurrent requests share one
// call; the token hidden from the upstream; and config errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { accessVerdict, testContext, testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { ConsumerRegistry } from '../../identity/registry.js';
import { introspectionAuthenticator, introspectionPolicy, introspectionSchema } from './oauth2-introspection.js';
import type { Policy, RequestContext, RespondVerdict } from '../types.js';

const consumers = [
  { id: 'alice', username: 'Alice', groups: ['staff'], plan: 'gold' },
  { id: 'bob', username: 'bob-the-user', groups: ['ops'] },
  { id: 'guest', groups: ['public'] },
];
const DENIED = { status: 401, code: 'GW_UNAUTHORIZED', headers: { 'www-authenticate': 'Bearer realm="gatehouse"' } };
const INSUFFICIENT = { status: 403, code: 'GW_FORBIDDEN', headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' } };

// ---- the introspection endpoint ----

type Reply = { status?: number; json?: unknown; text?: string; location?: string } | 'hang';
interface Call {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  form: URLSearchParams;
}
let server: Server;
let endpoint: string;
/** Token → the endpoint's answer; an unlisted token is inactive. */
const replies = new Map<string, Reply | (() => Reply)>();
const calls: Call[] = [];
const hits = (token: string) => calls.filter((c) => c.path === '/introspect' && c.form.get('token') === token).length;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      calls.push({
        method: req.method!,
        path: req.url!,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        form,
      });
      if (req.url !== '/introspect') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ active: true, sub: 'alice' }));
        return;
      }
      const r = replies.get(form.get('token') ?? '');
      const reply = typeof r === 'function' ? r() : (r ?? { json: { active: false } });
      if (reply === 'hang') return;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (reply.location !== undefined) headers.location = reply.location;
      res.writeHead(reply.status ?? 200, headers).end(reply.text ?? JSON.stringify(reply.json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

// ---- the policy ----

function check(policy: Record<string, unknown>) {
  return validateConfig({
    consumers,
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [
      {
        name: 'r',
        service: 's',
        policies: [{ type: 'oauth2-introspection', endpoint, clientId: 'gatehouse', clientSecret: 'p@ss:word', ...policy }],
      },
    ],
  });
}
function make(policy: Record<string, unknown> = {}): Policy {
  const r = check(policy);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return introspectionPolicy.create(
    r.config.routes[0]!.policies[0]! as never,
    testEnv({ config: r.config, consumers: new ConsumerRegistry(r.config.consumers), routeName: 'r' }),
  );
}
function errors(policy: Record<string, unknown>): string[] {
  const r = check(policy);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}
async function run(
  p: Policy,
  headers: Record<string, string>,
  method = 'GET',
): Promise<{ verdict: RespondVerdict | undefined; ctx: RequestContext }> {
  const ctx = testContext({ headers, method });
  const verdict = await accessVerdict(p.access!(ctx));
  return { verdict, ctx };
}
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

test('asks the endpoint as RFC 7662 says: POST, form body with the token and its hint, client id and secret as HTTP Basic', async () => {
  replies.set('tok-ask', { json: { active: true, sub: 'alice' } });
  await run(make(), bearer('tok-ask'));
  const call = calls.find((c) => c.form.get('token') === 'tok-ask')!;
  assert.equal(call.method, 'POST');
  assert.equal(call.contentType, 'application/x-www-form-urlencoded');
  assert.deepEqual(
    [...call.form.entries()],
    [
      ['token', 'tok-ask'],
      ['token_type_hint', 'access_token'],
    ],
  );
  assert.match(call.authorization!, /^Basic /);
  const [id, secret] = Buffer.from(call.authorization!.slice(6), 'base64').toString().split(':').map(decodeURIComponent);
  assert.deepEqual([id, secret], ['gatehouse', 'p@ss:word']);
  await run(make({ tokenTypeHint: 'refresh_token' }), bearer('tok-ask'));
  assert.equal(
    calls
      .filter((c) => c.form.get('token') === 'tok-ask')
      .at(-1)!
      .form.get('token_type_hint'),
    'refresh_token',
  );
});

test('an active token → the consumer named by sub, with the granted scopes and the claims', async () => {
  const exp = inAnHour();
  replies.set('tok-alice', { json: { active: true, sub: 'alice', scope: 'orders.read profile', client_id: 'app', exp } });
  const { verdict, ctx } = await run(make(), bearer('tok-alice'));
  assert.equal(verdict, undefined);
  assert.deepEqual(ctx.identity, {
    consumerId: 'alice',
    username: 'Alice',
    groups: ['staff'],
    plan: 'gold',
    credentialId: undefined,
    method: 'oauth2-introspection',
    scopes: ['orders.read', 'profile'],
    claims: { active: true, sub: 'alice', scope: 'orders.read profile', client_id: 'app', exp },
  });
  // consumerClaim picks another field; a consumer is found by id, else by username.
  replies.set('tok-bob', { json: { active: true, sub: 'nobody', username: 'bob-the-user', scp: ['a', 'b'] } });
  const bob = await run(make({ consumerClaim: 'username' }), bearer('tok-bob'));
  assert.equal(bob.verdict, undefined);
  assert.deepEqual([bob.ctx.identity?.consumerId, bob.ctx.identity?.scopes], ['bob', ['a', 'b']]);
});

test('a token naming no consumer: 401 by default; with unknownConsumer: anonymous, an identity without consumer', async () => {
  replies.set('tok-zed', { json: { active: true, sub: 'zed', scope: 'x' } });
  assert.deepEqual((await run(make(), bearer('tok-zed'))).verdict, DENIED);
  const { verdict, ctx } = await run(make({ unknownConsumer: 'anonymous' }), bearer('tok-zed'));
  assert.equal(verdict, undefined);
  assert.deepEqual(ctx.identity, {
    groups: [],
    method: 'oauth2-introspection',
    scopes: ['x'],
    claims: { active: true, sub: 'zed', scope: 'x' },
  });
});

test('fails closed: inactive, expired, not yet valid, endpoint error, not JSON, not an object → 401 with the Bearer challenge', async () => {
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, Reply][] = [
    ['tok-inactive', { json: { active: false, sub: 'alice' } }],
    ['tok-active-string', { json: { active: 'true', sub: 'alice' } }],
    ['tok-no-active', { json: { sub: 'alice' } }],
    ['tok-expired', { json: { active: true, sub: 'alice', exp: now - 10 } }],
    ['tok-nbf', { json: { active: true, sub: 'alice', nbf: now + 600 } }],
    ['tok-500', { status: 500, json: { active: true, sub: 'alice' } }],
    ['tok-401', { status: 401, json: { error: 'invalid_client' } }],
    ['tok-html', { text: '<html>active</html>' }],
    ['tok-array', { json: [{ active: true, sub: 'alice' }] }],
    ['tok-null', { text: 'null' }],
  ];
  const p = make();
  for (const [token, reply] of cases) {
    replies.set(token, reply);
    const { verdict, ctx } = await run(p, bearer(token));
    assert.deepEqual(verdict, DENIED, token);
    assert.equal(ctx.identity, undefined, token);
    assert.equal(hits(token), 1, `${token} was asked about`);
  }
});

test('endpoint down, redirecting, or slower than timeout → 401 (the redirect is not followed)', async () => {
  // Down: a port that was just listening and is now closed.
  const gone = createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
  const port = (gone.address() as AddressInfo).port;
  await new Promise((resolve) => gone.close(resolve));
  assert.deepEqual((await run(make({ endpoint: `http://127.0.0.1:${port}/introspect` }), bearer('tok-alice'))).verdict, DENIED);

  replies.set('tok-redirect', { status: 302, location: '/elsewhere', json: {} });
  assert.deepEqual((await run(make(), bearer('tok-redirect'))).verdict, DENIED);
  assert.equal(hits('tok-redirect'), 1);
  assert.equal(calls.filter((c) => c.path === '/elsewhere').length, 0, 'a redirect is never followed');

  replies.set('tok-hang', 'hang');
  assert.deepEqual((await run(make({ timeout: '100ms' }), bearer('tok-hang'))).verdict, DENIED);
  assert.equal(hits('tok-hang'), 1);
});

test('missing, too long or malformed token → 401 without asking the endpoint', async () => {
  const p = make({ maxTokenSize: 16 });
  const before = calls.length;
  for (const headers of [
    {},
    { Authorization: 'Bearer ' },
    { Authorization: 'Basic dXNlcjpwdw==' },
    bearer('x'.repeat(17)),
    bearer('tok\u00e9-alice'),
  ] as Record<string, string>[]) {
    assert.deepEqual((await run(p, headers)).verdict, DENIED, JSON.stringify(headers));
  }
  assert.equal(calls.length, before);
});

test('requireScopes (also per method) → 403 GW_FORBIDDEN with insufficient_scope; the anonymous fallback does not apply', async () => {
  replies.set('tok-reader', { json: { active: true, sub: 'alice', scope: 'orders.read', exp: inAnHour() } });
  const p = make({ requireScopes: ['orders.read'], methods: { POST: { requireScopes: ['orders.write'] } }, anonymous: 'guest' });
  const read = await run(p, bearer('tok-reader'));
  assert.equal(read.verdict, undefined);
  assert.equal(read.ctx.identity?.consumerId, 'alice');
  const write = await run(p, bearer('tok-reader'), 'POST');
  assert.deepEqual(write.verdict, INSUFFICIENT);
  assert.equal(write.ctx.identity, undefined);
  const none = await run(make({ requireScopes: ['admin'] }), bearer('tok-reader'));
  assert.deepEqual(none.verdict, INSUFFICIENT);
  // requireClaims fail the same way.
  assert.deepEqual((await run(make({ requireClaims: { sub: 'bob' } }), bearer('tok-reader'))).verdict, INSUFFICIENT);
  // A token that is not active is a 401 (and takes the anonymous fallback), not a 403.
  const inactive = await run(p, bearer('tok-unlisted'));
  assert.equal(inactive.verdict, undefined);
  assert.equal(inactive.ctx.identity?.anonymous, true);
});

test('the token from a header or a cookie instead of Authorization', async () => {
  replies.set('tok-h', { json: { active: true, sub: 'alice' } });
  const p = make({ bearer: false, header: 'X-Token', cookie: 'session' });
  assert.equal((await run(p, { 'x-token': 'tok-h' })).ctx.identity?.consumerId, 'alice');
  assert.equal((await run(p, { Cookie: 'theme=dark; session=tok-h' })).ctx.identity?.consumerId, 'alice');
  assert.deepEqual((await run(p, bearer('tok-h'))).verdict, DENIED, 'bearer: false');
});

test('upstreamRequest: the bearer token is removed and claimHeaders are sent; hideCredentials: false keeps it', async () => {
  replies.set('tok-mail', { json: { active: true, sub: 'alice', email: 'alice@example.com' } });
  const p = make({ claimHeaders: { 'x-user-email': 'email' } });
  const { ctx } = await run(p, bearer('tok-mail'));
  const headers = ['Authorization', 'Bearer tok-mail', 'Accept', '*/*', 'X-User-Email', 'forged@example.com'];
  p.upstreamRequest!(ctx, headers);
  assert.deepEqual(headers, ['Accept', '*/*', 'x-user-email', 'alice@example.com']);
  const keep = make({ hideCredentials: false });
  const kept = ['Authorization', 'Bearer tok-mail'];
  keep.upstreamRequest?.((await run(keep, bearer('tok-mail'))).ctx, kept);
  assert.deepEqual(kept, ['Authorization', 'Bearer tok-mail']);
});

test('concurrent requests with the same token share one call', async () => {
  replies.set('tok-burst', { json: { active: true, sub: 'bob' } });
  const p = make({ cacheSize: 0 });
  const results = await Promise.all(Array.from({ length: 5 }, () => run(p, bearer('tok-burst'))));
  assert.deepEqual(
    results.map((r) => r.ctx.identity?.consumerId),
    ['bob', 'bob', 'bob', 'bob', 'bob'],
  );
  assert.equal(hits('tok-burst'), 1);
  // Once it is answered (and nothing is cached), the next request asks again.
  await run(p, bearer('tok-burst'));
  assert.equal(hits('tok-burst'), 2);
});

test('cache: an active answer is reused until its exp and at most cacheTtl; inactive answers are not cached (injected clock)', async () => {
  let clock = Date.UTC(2030, 0, 1);
  const valid = check({});
  if (!valid.ok) throw new Error(JSON.stringify(valid.errors));
  const registry = new ConsumerRegistry(valid.config.consumers);
  const auth = (cfg: Record<string, unknown>) =>
    introspectionAuthenticator(
      introspectionSchema.parse({ type: 'oauth2-introspection', endpoint, clientId: 'gatehouse', clientSecret: 's', ...cfg }),
      registry,
      { now: () => clock },
    );
  const ctx = (token: string, method = 'GET') => testContext({ headers: bearer(token), method });

  // Until exp (60 s away), though cacheTtl is 5 minutes.
  replies.set('tok-exp', { json: { active: true, sub: 'alice', exp: clock / 1000 + 60 } });
  const a = auth({ cacheTtl: '5m' });
  const first = a.authenticate(ctx('tok-exp'));
  assert.ok(first instanceof Promise, 'the first request asks the endpoint');
  assert.equal((await first).ok, true);
  clock += 59_000;
  const second = a.authenticate(ctx('tok-exp'));
  assert.ok(!(second instanceof Promise), 'served from the cache');
  assert.equal((second as { ok: boolean }).ok, true);
  assert.equal(hits('tok-exp'), 1);
  clock += 2_000;
  assert.equal((await a.authenticate(ctx('tok-exp'))).ok, false, 'past exp: asked again, and now expired');
  assert.equal(hits('tok-exp'), 2);

  // At most cacheTtl for a token without exp.
  replies.set('tok-noexp', { json: { active: true, sub: 'alice' } });
  const b = auth({ cacheTtl: '1m' });
  await b.authenticate(ctx('tok-noexp'));
  clock += 59_000;
  assert.ok(!(b.authenticate(ctx('tok-noexp')) instanceof Promise));
  clock += 2_000;
  assert.equal((await b.authenticate(ctx('tok-noexp'))).ok, true);
  assert.equal(hits('tok-noexp'), 2);
  assert.equal(b.calls(), 2);

  // Requirements are checked per request, also on a cached answer.
  replies.set('tok-scoped', { json: { active: true, sub: 'alice', scope: 'read' } });
  const c = auth({ methods: { POST: { requireScopes: ['write'] } } });
  assert.equal((await c.authenticate(ctx('tok-scoped'))).ok, true);
  const post = c.authenticate(ctx('tok-scoped', 'POST'));
  assert.ok(!(post instanceof Promise));
  assert.deepEqual(post, { ok: false, forbidden: true, reason: 'missing scope "write"' });
  assert.equal(hits('tok-scoped'), 1);

  // Inactive answers, and everything with cacheTtl 0 or cacheSize 0, are asked about every time.
  const d = auth({});
  for (let i = 0; i < 2; i++) assert.equal((await d.authenticate(ctx('tok-never-active'))).ok, false);
  assert.equal(hits('tok-never-active'), 2);
  replies.set('tok-nocache', { json: { active: true, sub: 'alice' } });
  for (const cfg of [{ cacheTtl: '0s' }, { cacheSize: 0 }]) {
    const e = auth(cfg);
    await e.authenticate(ctx('tok-nocache'));
    assert.ok(e.authenticate(ctx('tok-nocache')) instanceof Promise, JSON.stringify(cfg));
    await e.authenticate(ctx('tok-nocache'));
    assert.equal(e.calls(), 2, JSON.stringify(cfg));
  }
});

test('config errors name the path', () => {
  assert.deepEqual(
    errors({
      timeout: '2s',
      cacheTtl: 0,
      cacheSize: 0,
      consumerClaim: 'client_id',
      unknownConsumer: 'anonymous',
      requireScopes: ['a'],
      anonymous: 'guest',
    }),
    [],
  );
  assert.deepEqual(errors({ endpoint: 'ftp://idp.example/introspect' }), [
    'routes[0].policies[0].endpoint: the introspection endpoint is an http(s) URL',
  ]);
  assert.deepEqual(errors({ endpoint: 'idp.example/introspect' }), [
    'routes[0].policies[0].endpoint: the introspection endpoint is an http(s) URL',
  ]);
  assert.deepEqual(
    errors({ clientId: '' }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].clientId'],
  );
  assert.deepEqual(
    errors({ clientSecret: undefined }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].clientSecret'],
  );
  assert.deepEqual(
    errors({ timeout: 'soon' }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].timeout'],
  );
  assert.deepEqual(
    errors({ cacheSize: -1 }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].cacheSize'],
  );
  assert.deepEqual(
    errors({ maxTokenSize: 8 }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].maxTokenSize'],
  );
  assert.deepEqual(
    errors({ unknownConsumer: 'allow' }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].unknownConsumer'],
  );
  assert.deepEqual(
    errors({ claimHeaders: { 'bad name': 'email' } }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].claimHeaders.bad name'],
  );
  assert.deepEqual(
    errors({ requireScopes: [''] }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].requireScopes[0]'],
  );
  const regex = errors({ requireClaims: { email: { regex: '(' } } });
  assert.equal(regex.length, 1);
  assert.match(regex[0]!, /^routes\[0\]\.policies\[0\]\.requireClaims\.email\.regex: Invalid regular expression/);
  assert.deepEqual(errors({ anonymous: 'nobody' }), ['routes[0].policies[0].anonymous: consumer "nobody" is not defined in consumers']);
  assert.deepEqual(
    errors({ introspectionUrl: endpoint }).map((e) => e.split(': ')[0]),
    ['routes[0].policies[0].introspectionUrl'],
  );
});
