// jwt: inline keys (HMAC secret, PEM, JWK), JWKS with rotation, bounded refresh and stale keys
// while the endpoint fails, OIDC discovery, scopes/claims per method, claim headers, and the
// negative corpus of the issue: each case a 401 that the counting upstream never sees.
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac, createSign, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { SignJWT, exportJWK, type JWK } from 'jose';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';

const HS_SECRET = 'an-hmac-secret-of-at-least-32-bytes!!';
const ISS = 'https://issuer.test';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const rsa2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();

interface KeyServer {
  url: string;
  hits: number;
  keys: JWK[];
  fail: boolean;
  close(): Promise<void>;
}

async function keyServer(extra?: (s: KeyServer, req: http.IncomingMessage, res: http.ServerResponse) => boolean): Promise<KeyServer> {
  const s = { hits: 0, keys: [] as JWK[], fail: false } as KeyServer;
  const server = http.createServer((req, res) => {
    s.hits++;
    if (extra?.(s, req, res)) return;
    if (s.fail) {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: s.keys }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  s.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return s;
}

const jwkOf = async (k: KeyObject, kid: string, alg: string): Promise<JWK> => ({ ...(await exportJWK(k)), kid, alg, use: 'sig' });

let up: Upstream;
let gw: TestGateway;
let jwks: KeyServer;
let fastJwks: KeyServer;
let oidc: KeyServer;
let evil: KeyServer;

before(async () => {
  up = await startUpstream();
  jwks = await keyServer();
  jwks.keys = [await jwkOf(ed.publicKey, 'ed1', 'EdDSA'), await jwkOf(rsa2.publicKey, 'ps1', 'PS256')];
  fastJwks = await keyServer();
  fastJwks.keys = [await jwkOf(rsa2.publicKey, 'r1', 'RS256')];
  oidc = await keyServer((s, req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: s.url, jwks_uri: `${s.url}/keys` }));
      return true;
    }
    return false;
  });
  oidc.keys = [await jwkOf(ec.publicKey, 'oidc1', 'ES256')];
  evil = await keyServer();
  evil.keys = [await jwkOf(attacker.publicKey, 'evil', 'RS256')];
  const base = { issuer: ISS, audience: 'api' };
  gw = await startTestGateway({
    // Room for the 64 KiB token below to reach the jwt policy (the default header limit, 16 KiB,
    // answers 431 before any policy runs: see test/edge-server.test.ts).
    server: { maxHeaderSize: '128kb' },
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'alice', username: 'alice@example.com', groups: ['staff'] }],
    routes: [
      {
        name: 'hs',
        match: { paths: ['/hs/*'] },
        service: 'up',
        policies: [
          { type: 'jwt', algorithms: ['HS256'], keys: [{ secret: HS_SECRET }], ...base, claimHeaders: { 'x-user-email': 'email' } },
        ],
      },
      {
        name: 'inline',
        match: { paths: ['/inline/*'] },
        service: 'up',
        policies: [
          {
            type: 'jwt',
            algorithms: ['RS256', 'ES256'],
            keys: [
              { kid: 'rs1', pem: rsaPem },
              { kid: 'ec1', jwk: await exportJWK(ec.publicKey) },
            ],
            ...base,
          },
        ],
      },
      {
        name: 'pem-and-jwks',
        match: { paths: ['/pem-and-jwks/*'] },
        service: 'up',
        policies: [{ type: 'jwt', algorithms: ['RS256', 'PS256'], keys: [{ pem: rsaPem }], jwksUri: `${jwks.url}/keys`, ...base }],
      },
      {
        name: 'mixed',
        match: { paths: ['/mixed/*'] },
        service: 'up',
        policies: [{ type: 'jwt', algorithms: ['HS256', 'RS256'], keys: [{ pem: rsaPem }], ...base }],
      },
      {
        name: 'jwks',
        match: { paths: ['/jwks/*'] },
        service: 'up',
        policies: [{ type: 'jwt', algorithms: ['EdDSA', 'PS256'], jwksUri: `${jwks.url}/keys`, jwksCooldown: '1h', ...base }],
      },
      {
        name: 'fast',
        match: { paths: ['/fast/*'] },
        service: 'up',
        policies: [
          {
            type: 'jwt',
            algorithms: ['RS256'],
            jwksUri: `${fastJwks.url}/keys`,
            jwksCooldown: '0ms',
            jwksCacheTtl: '0ms',
            verifiedCacheTtl: 0,
            ...base,
          },
        ],
      },
      {
        name: 'oidc',
        match: { paths: ['/oidc/*'] },
        service: 'up',
        policies: [{ type: 'jwt', algorithms: ['ES256'], issuer: oidc.url, audience: 'api' }],
      },
      {
        name: 'scopes',
        match: { paths: ['/scopes/*'] },
        service: 'up',
        policies: [
          {
            type: 'jwt',
            algorithms: ['HS256'],
            keys: [{ secret: HS_SECRET }],
            ...base,
            requireScopes: ['read'],
            requireClaims: { tenant: { oneOf: ['acme', 'globex'] }, email: { regex: '@example\\.com$' }, 'org.tier': 'pro' },
            methods: { POST: { requireScopes: ['write'] } },
          },
        ],
      },
      {
        name: 'unknown',
        match: { paths: ['/unknown/*'] },
        service: 'up',
        policies: [{ type: 'jwt', algorithms: ['HS256'], keys: [{ secret: HS_SECRET }], ...base, unknownConsumer: 'anonymous' }],
      },
      {
        name: 'cookie',
        match: { paths: ['/cookie/*'] },
        service: 'up',
        policies: [
          {
            type: 'jwt',
            algorithms: ['HS256'],
            keys: [{ secret: HS_SECRET }],
            ...base,
            bearer: false,
            cookie: 'session',
            header: 'x-token',
          },
        ],
      },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await Promise.all(
    [up, jwks, fastJwks, oidc, evil].map(async (s) => {
      await maybeUnset(s)?.close();
    }),
  );
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ sub: 'alice', iss: ISS, aud: 'api', exp: now() + 300, iat: now(), ...extra });

async function hs(extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims(extra)).setProtectedHeader({ alg: 'HS256', ...header }).sign(Buffer.from(HS_SECRET));
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Signs any header/payload by hand (for tokens jose would refuse to make). */
function handmade(header: Record<string, unknown>, payload: unknown, key: KeyObject | Buffer | string, alg = 'RS256'): string {
  const input = `${b64(header)}.${typeof payload === 'string' && !payload.startsWith('{') ? payload : b64(payload)}`;
  let sig: Buffer;
  if (alg.startsWith('HS')) sig = createHmac('sha256', key).update(input).digest();
  else sig = createSign('RSA-SHA256').update(input).sign(key);
  return `${input}.${sig.toString('base64url')}`;
}

async function call(path: string, token: string | undefined, init: { method?: string; headers?: Record<string, string> } = {}) {
  const before = up.hits;
  const headers: Record<string, string> = { ...init.headers };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await request(gw.url + path, { method: (init.method ?? 'GET') as 'GET', headers });
  const text = await res.body.text();
  const reached = up.hits > before;
  return { status: res.statusCode, headers: res.headers, text, reached, seen: reached ? up.seen.at(-1)! : undefined };
}

describe('jwt accepted', () => {
  test('HS256 with inline secret: identity, scopes, claim header; token hidden', async () => {
    const r = await call('/hs/a', await hs({ scope: 'read write', email: 'alice@example.com' }), {
      headers: { 'x-user-email': 'forged@evil.test' },
    });
    assert.equal(r.status, 200);
    const h = r.seen!.headers;
    assert.equal(h['x-consumer-id'], 'alice');
    assert.equal(h['x-authenticated-scopes'], 'read write');
    assert.equal(h['x-user-email'], 'alice@example.com');
    assert.equal(h.authorization, undefined);
  });

  test('a claim outside printable ASCII reaches the upstream percent-encoded, never as a failed request', async () => {
    const r = await call('/hs/a', await hs({ email: '李@例え.jp' }));
    assert.equal(r.status, 200);
    assert.equal(r.seen!.headers['x-user-email'], encodeURIComponent('李@例え.jp'));
    const ctl = await call('/hs/a', await hs({ email: 'a\r\nx-evil: 1' }));
    assert.equal(ctl.status, 200);
    assert.equal(ctl.seen!.headers['x-evil'], undefined);
    assert.equal(ctl.seen!.headers['x-user-email'], 'a%0D%0Ax-evil%3A%201');
  });

  test('a mapped claim header sent by the client is removed on routes without that mapping too', async () => {
    const rs = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'rs1' }).sign(rsa.privateKey);
    const r = await call('/inline/a', rs, { headers: { 'x-user-email': 'forged@evil.test' } });
    assert.equal(r.status, 200);
    assert.equal(r.seen!.headers['x-user-email'], undefined);
  });

  test('RS256 from PEM and ES256 from JWK, chosen by kid', async () => {
    const rs = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'rs1' }).sign(rsa.privateKey);
    assert.equal((await call('/inline/a', rs)).status, 200);
    const es = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', kid: 'ec1' }).sign(ec.privateKey);
    assert.equal((await call('/inline/a', es)).status, 200);
  });

  test('EdDSA and PS256 from a JWKS URL, fetched once and cached', async () => {
    const a = await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', kid: 'ed1' }).sign(ed.privateKey);
    const b = await new SignJWT(claims()).setProtectedHeader({ alg: 'PS256', kid: 'ps1' }).sign(rsa2.privateKey);
    const before = jwks.hits;
    for (let i = 0; i < 3; i++) {
      assert.equal((await call('/jwks/a', a)).status, 200);
      assert.equal((await call('/jwks/a', b)).status, 200);
    }
    assert.ok(jwks.hits - before <= 1);
  });

  test('an inline key without kid does not hide the JWKS: a kid it does not name is looked up there', async () => {
    const fromJwks = await new SignJWT(claims()).setProtectedHeader({ alg: 'PS256', kid: 'ps1' }).sign(rsa2.privateKey);
    assert.equal((await call('/pem-and-jwks/a', fromJwks)).status, 200);
    const fromPem = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
    assert.equal((await call('/pem-and-jwks/a', fromPem)).status, 200);
  });

  test('OIDC discovery from the issuer', async () => {
    const t = await new SignJWT({ ...claims(), iss: oidc.url }).setProtectedHeader({ alg: 'ES256', kid: 'oidc1' }).sign(ec.privateKey);
    const r = await call('/oidc/a', t);
    assert.equal(r.status, 200);
    assert.equal(r.seen!.headers['x-consumer-id'], 'alice');
  });

  test('cookie spellings: a space before "=", or the token in a second Cookie header; it never reaches the upstream', async () => {
    const t = await hs();
    let r = await call('/cookie/a', undefined, { headers: { cookie: `theme=dark; session =${t}` } });
    assert.equal(r.status, 200);
    assert.equal(r.seen!.headers.cookie, 'theme=dark');
    const before = up.hits;
    const res = await request(gw.url + '/cookie/a', { headers: ['cookie', 'a=1; b=2', 'cookie', `session=${t}`] });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    assert.equal(up.hits, before + 1);
    assert.equal(up.seen.at(-1)!.headers.cookie, 'a=1; b=2');
    r = await call('/cookie/a', undefined, { headers: { cookie: 'theme=dark' } });
    assert.equal(r.status, 401);
  });

  test('token from a cookie or a header; the cookie is removed, the others kept', async () => {
    const t = await hs();
    let r = await call('/cookie/a', undefined, { headers: { cookie: `theme=dark; session=${t}; lang=en` } });
    assert.equal(r.status, 200);
    assert.equal(r.seen!.headers.cookie, 'theme=dark; lang=en');
    r = await call('/cookie/a', undefined, { headers: { 'x-token': t } });
    assert.equal(r.status, 200);
    assert.equal(r.seen!.headers['x-token'], undefined);
    assert.equal((await call('/cookie/a', t)).status, 401); // bearer: false
  });

  test('unknown consumer: refused by default, anonymous identity when configured', async () => {
    const t = await hs({ sub: 'somebody-else' });
    assert.equal((await call('/hs/a', t)).status, 401);
    const r = await call('/unknown/a', t);
    assert.equal(r.status, 200);
    assert.equal(r.seen!.headers['x-consumer-id'], undefined);
  });
});

describe('jwt scopes and claims', () => {
  const good = { scope: 'read', tenant: 'acme', email: 'a@example.com', org: { tier: 'pro' } };
  test('met requirements pass; per-method scopes apply to POST only', async () => {
    assert.equal((await call('/scopes/a', await hs(good))).status, 200);
    const post = await call('/scopes/a', await hs(good), { method: 'POST' });
    assert.equal(post.status, 403);
    assert.equal(post.reached, false);
    assert.equal(post.headers['www-authenticate'], 'Bearer error="insufficient_scope"');
    assert.equal((await call('/scopes/a', await hs({ ...good, scope: 'read write' }), { method: 'POST' })).status, 200);
  });

  test('each unmet requirement is a 403', async () => {
    for (const bad of [
      { scope: 'write' },
      { tenant: 'initech' },
      { email: 'a@example.com.evil' },
      { org: { tier: 'free' } },
      { scp: ['read'], scope: undefined, tenant: ['x'] },
    ]) {
      const r = await call('/scopes/a', await hs({ ...good, ...bad }));
      assert.equal(r.status, 403, JSON.stringify(bad));
      assert.equal(r.reached, false);
    }
    assert.equal((await call('/scopes/a', await hs({ ...good, scope: undefined, scp: ['read'], tenant: ['x', 'globex'] }))).status, 200);
  });
});

describe('jwks refresh', () => {
  test('a new kid is fetched on demand; while the endpoint fails, cached keys keep serving', async () => {
    const k2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const t1 = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'r1' }).sign(rsa2.privateKey);
    const t2 = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: 'r2' }).sign(k2.privateKey);
    assert.equal((await call('/fast/a', t1)).status, 200);
    assert.equal((await call('/fast/a', t2)).status, 401);
    fastJwks.keys = [...fastJwks.keys, await jwkOf(k2.publicKey, 'r2', 'RS256')];
    assert.equal((await call('/fast/a', t2)).status, 200);
    fastJwks.fail = true;
    for (let i = 0; i < 3; i++) assert.equal((await call('/fast/a', t1)).status, 200);
    fastJwks.fail = false;
  });

  test('unknown kids refresh at most once per cooldown', async () => {
    const before = jwks.hits;
    for (let i = 0; i < 5; i++) {
      const t = await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', kid: `nope${i}` }).sign(ed.privateKey);
      assert.equal((await call('/jwks/a', t)).status, 401);
    }
    assert.ok(jwks.hits - before <= 1, `fetched ${jwks.hits - before} times`);
  });
});

describe('jwt negative corpus: 401, upstream never called', () => {
  const cases: [string, () => Promise<string> | string, string?][] = [];
  const payload = () => claims();
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    cases.push([`alg ${alg}, empty signature`, () => `${b64({ alg, typ: 'JWT' })}.${b64(payload())}.`]);
    cases.push([`alg ${alg}, some signature`, () => `${b64({ alg })}.${b64(payload())}.AAAA`]);
    cases.push([`alg ${alg}, no signature part`, () => `${b64({ alg })}.${b64(payload())}`]);
  }
  cases.push([
    'HS256 signed with the RSA public key as secret (key confusion)',
    () => handmade({ alg: 'HS256' }, payload(), Buffer.from(rsaPem), 'HS256'),
    '/mixed/a',
  ]);
  cases.push([
    'HS256 with the PEM, kid of the RSA key',
    () => handmade({ alg: 'HS256', kid: 'rs1' }, payload(), Buffer.from(rsaPem), 'HS256'),
    '/inline/a',
  ]);
  cases.push([
    'kid path traversal',
    () => handmade({ alg: 'HS256', kid: '../../../../../../dev/null' }, payload(), Buffer.alloc(0), 'HS256'),
    '/hs/a',
  ]);
  cases.push(['kid SQL injection', () => handmade({ alg: 'RS256', kid: "rs1' OR '1'='1" }, payload(), attacker.privateKey), '/inline/a']);
  cases.push([
    'embedded jwk',
    async () => handmade({ alg: 'RS256', jwk: await exportJWK(attacker.publicKey) }, payload(), attacker.privateKey),
    '/inline/a',
  ]);
  cases.push([
    'jku pointing elsewhere',
    () => handmade({ alg: 'RS256', kid: 'evil', jku: `${evil.url}/keys` }, payload(), attacker.privateKey),
    '/jwks/a',
  ]);
  cases.push([
    'x5u pointing elsewhere',
    () => handmade({ alg: 'RS256', x5u: `${evil.url}/cert.pem` }, payload(), attacker.privateKey),
    '/inline/a',
  ]);
  cases.push([
    'unknown crit',
    () => handmade({ alg: 'RS256', kid: 'rs1', crit: ['x-custom'], 'x-custom': true }, payload(), rsa.privateKey),
    '/inline/a',
  ]);
  cases.push([
    'b64: false in crit',
    () => handmade({ alg: 'RS256', kid: 'rs1', b64: false, crit: ['b64'] }, payload(), rsa.privateKey),
    '/inline/a',
  ]);
  cases.push([
    'b64: false with a raw JSON payload',
    () => {
      const h = b64({ alg: 'RS256', kid: 'rs1', b64: false, crit: ['b64'] });
      const p = JSON.stringify(payload());
      return `${h}.${p}.${cryptoSign('sha256', Buffer.from(`${h}.${p}`), rsa.privateKey).toString('base64url')}`;
    },
    '/inline/a',
  ]);
  cases.push(['expired', () => hs({ exp: now() - 3600 })]);
  cases.push(['not yet valid', () => hs({ nbf: now() + 3600 })]);
  cases.push(['wrong iss', () => hs({ iss: 'https://evil.test' })]);
  cases.push(['wrong aud', () => hs({ aud: 'other' })]);
  cases.push(['missing exp', () => hs({ exp: undefined })]);
  cases.push(['bad signature', async () => (await hs()).slice(0, -4) + 'AAAA']);
  cases.push([
    'signed with another HMAC secret',
    () => new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from('another-secret-that-is-long-enough-!!')),
  ]);
  cases.push([
    'an algorithm the route does not allow',
    () => new SignJWT(claims()).setProtectedHeader({ alg: 'HS512' }).sign(Buffer.from(HS_SECRET)),
  ]);
  cases.push(['padding on the signature', async () => (await hs()) + '=']);
  cases.push([
    'standard base64 alphabet in the signature',
    async () => {
      const t = await hs();
      const [h, p, s] = t.split('.');
      return `${h}.${p}.${Buffer.from(s!, 'base64url').toString('base64')}`;
    },
  ]);
  cases.push([
    'signature with non-zero spare bits',
    async () => {
      const t = await hs();
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(t.at(-1)!);
      return t.slice(0, -1) + alphabet[last | 1]!; // same bytes once decoded, another spelling
    },
  ]);
  cases.push([
    'payload re-encoded with padding',
    async () => {
      let t = await hs();
      for (let n = 0; t.split('.')[1]!.length % 4 === 0; n++) t = await hs({ n });
      const [h, p, s] = t.split('.');
      return `${h}.${Buffer.from(p!, 'base64url').toString('base64')}.${s}`;
    },
  ]);
  cases.push([
    'whitespace inside the token',
    async () => {
      const t = await hs();
      return t.replace('.', ' .');
    },
  ]);
  cases.push(['a 12 KiB token (over maxTokenSize)', () => hs({ pad: 'x'.repeat(9 * 1024) })]);
  cases.push([
    'deeply nested JSON claims',
    () => handmade({ alg: 'HS256' }, '{"a":'.repeat(1000) + '1' + '}'.repeat(1000), Buffer.from('wrong-secret'), 'HS256'),
  ]);
  cases.push([
    'deeply nested JSON claims, right key, under maxTokenSize',
    () =>
      handmade(
        { alg: 'HS256' },
        { ...claims(), deep: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) as unknown },
        Buffer.from(HS_SECRET),
        'HS256',
      ),
  ]);
  cases.push([
    'deeply nested JSON claims, right key (over maxTokenSize)',
    () => handmade({ alg: 'HS256' }, '{"a":'.repeat(1400) + '1' + '}'.repeat(1400), Buffer.from(HS_SECRET), 'HS256'),
  ]);
  cases.push(['a payload that is not JSON', () => handmade({ alg: 'HS256' }, b64('not json'), Buffer.from(HS_SECRET), 'HS256')]);
  cases.push(['a header that is not JSON', () => `${b64('nope')}.${b64(payload())}.AAAA`]);
  cases.push(['two dots only', () => '..']);
  cases.push(['a JWE (five parts)', () => 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..AAAA.AAAA.AAAA']);

  for (const [name, make, path] of cases) {
    test(name, async () => {
      const evilHits = evil.hits;
      const r = await call(path ?? '/hs/a', await make());
      assert.equal(r.status, 401, r.text);
      assert.equal(r.reached, false);
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="gatehouse"');
      const body = JSON.parse(r.text) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'GW_UNAUTHORIZED');
      assert.equal(body.error.message, 'Authentication is required to access this resource.');
      assert.equal(evil.hits, evilHits, 'a URL in the token was fetched');
    });
  }

  test('a 64 KiB token is refused before it is parsed (maxTokenSize): 401, upstream never called', async () => {
    const signed = await hs({ pad: 'a'.repeat(64 * 1024) });
    assert.ok(signed.length > 64 * 1024);
    const r = await call('/hs/a', signed);
    assert.equal(r.status, 401);
    assert.equal(r.reached, false);
    assert.equal((JSON.parse(r.text) as { error: { code: string } }).error.code, 'GW_UNAUTHORIZED');
  });
});
