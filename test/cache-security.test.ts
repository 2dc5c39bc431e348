// The cache against a hostile client, through a real gateway: each test failed before its fix.
// One service that answers with what it was told about the request (so a response stored for
// one request and served to another shows), and routes that each expose one way in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';
import { rawRequest } from './helpers/raw.js';
import { SignJWT } from 'jose';

const JWT_SECRET = 'cache-security-test-secret-0123456789abcdef';
const token = (sub: string) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('5m').sign(Buffer.from(JWT_SECRET));

let up: Upstream;
let gw: TestGateway;
let n = 0;
let revalidations = 0;
let slowGets = 0;

before(async () => {
  up = await startUpstream((req, res) => {
    n++;
    const url = req.url!;
    if (url.startsWith('/revalidated')) {
      // Stored with a validator and no freshness: every use is a revalidation. The first one's 304
      // sets the revalidating client's cookie.
      if (req.headers['if-none-match'] === '"v1"') {
        revalidations++;
        const cookie: Record<string, string> = revalidations === 1 ? { 'set-cookie': 'sid=first-revalidator' } : {};
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=0', ...cookie });
        return res.end();
      }
      res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=0' });
      return res.end('the representation');
    }
    if (url.startsWith('/slow-after-head')) {
      if (req.method === 'GET') slowGets++;
      setTimeout(() => {
        if (req.headers.range !== undefined) {
          res.writeHead(206, { 'cache-control': 'max-age=60', 'content-range': 'bytes 0-0/4' });
          return res.end('s');
        }
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('slow');
      }, 200);
      return;
    }
    if (url.startsWith('/partial')) {
      res.writeHead(206, { 'cache-control': 'max-age=60', 'content-range': 'bytes 0-1/10' });
      return res.end('AB');
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      const told = {
        authorization: req.headers.authorization ?? null,
        xfh: req.headers['x-forwarded-host'] ?? null,
        xfp: req.headers['x-forwarded-proto'] ?? null,
        override: req.headers['x-http-method-override'] ?? null,
        scheme: req.headers['x-forwarded-scheme'] ?? null,
        original: req.headers['x-original-url'] ?? null,
        body: Buffer.concat(chunks).toString(),
        url,
        n,
      };
      res.end(JSON.stringify(told));
    });
  });
  gw = await startTestGateway({
    // The gateway's clients are a proxy's: X-Forwarded-* they send are passed on.
    trustedProxies: ['127.0.0.1'],
    services: { origin: { targets: [{ url: up.url }] } },
    consumers: [{ id: 'carol', credentials: [{ type: 'api-key', key: 'carol-key-0123456789' }] }],
    routes: [
      {
        name: 'query-key',
        match: { paths: ['/qk/*'] },
        service: 'origin',
        policies: [
          { type: 'key-auth', query: 'apikey' },
          { type: 'cache', key: ['consumer'] },
        ],
      },
      {
        name: 'jwt-by-consumer',
        match: { paths: ['/jwt/*'] },
        service: 'origin',
        policies: [
          { type: 'jwt', algorithms: ['HS256'], keys: [{ secret: JWT_SECRET }], unknownConsumer: 'anonymous' },
          { type: 'cache', key: ['consumer'] },
        ],
      },
      { name: 'by-consumer', match: { paths: ['/consumer/*'] }, service: 'origin', policies: [{ type: 'cache', key: ['consumer'] }] },
      {
        name: 'partial',
        match: { paths: ['/partial/*'] },
        service: 'origin',
        policies: [{ type: 'cache', statuses: [200, 206] }],
      },
      { name: 'cached', match: { paths: ['/*'] }, service: 'origin', policies: [{ type: 'cache' }] },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await request(gw.url + path, { headers });
  return { status: r.statusCode, body: await r.body.text(), cacheStatus: String(r.headers['cache-status']) };
}

test("key: [consumer] with no verified consumer: one client's Authorization answer is not stored for the next", async () => {
  const alice = await get('/consumer/me', { authorization: 'Bearer alice' });
  assert.match(alice.body, /alice/);
  const bob = await get('/consumer/me', { authorization: 'Bearer bob' });
  assert.match(bob.body, /"Bearer bob"/, `bob got: ${bob.body} (${bob.cacheStatus})`);
  const nobody = await get('/consumer/me');
  assert.doesNotMatch(nobody.body, /Bearer/, 'an anonymous request is not given an authorised answer');
});

test('key: [consumer] and JWTs whose subject is no known consumer: one subject is not served the answer for another', async () => {
  const a = await get('/jwt/me', { authorization: `Bearer ${await token('alice')}` });
  assert.equal(a.status, 200, a.body);
  const bobToken = await token('bob');
  const b = await get('/jwt/me', { authorization: `Bearer ${bobToken}` });
  assert.equal(b.status, 200);
  assert.notEqual(
    (JSON.parse(b.body) as { n: number }).n,
    (JSON.parse(a.body) as { n: number }).n,
    `bob was served alice's answer (${b.cacheStatus})`,
  );
});

test('a 206 is never stored, whatever `statuses` says: a part would answer requests for the whole', async () => {
  const first = await get('/partial/file', { range: 'bytes=0-1' });
  assert.equal(first.status, 206);
  const whole = await get('/partial/file');
  assert.doesNotMatch(whole.cacheStatus, /hit/, 'a request for the whole was answered with the stored part');
});

test("the Host's port is keyed: the service is told it (X-Forwarded-Host), so its answer is not everyone's", async () => {
  const poisoned = await rawRequest(gw.port, 'GET /links/1 HTTP/1.1\r\nHost: 127.0.0.1:1337\r\nConnection: close\r\n\r\n');
  assert.match(poisoned, /127\.0\.0\.1:1337/);
  const victim = await get('/links/1');
  assert.doesNotMatch(victim.body, /1337/, `served the answer for another port (${victim.cacheStatus})`);
  assert.match((await get('/links/1')).cacheStatus, /hit/, 'the usual Host still hits');
});

test('X-Forwarded-Host and -Proto from a trusted proxy are keyed: the service builds links from them', async () => {
  const poisoned = await get('/links/2', { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'gopher' });
  assert.match(poisoned.body, /evil\.example/);
  const victim = await get('/links/2');
  assert.doesNotMatch(victim.body, /evil|gopher/, `served the answer for another origin (${victim.cacheStatus})`);
});

test('a GET with a method override header is not stored: the service may act on it as another method', async () => {
  const overridden = await get('/items/1', { 'x-http-method-override': 'DELETE' });
  assert.match(overridden.body, /DELETE/);
  const victim = await get('/items/1');
  assert.doesNotMatch(victim.body, /DELETE/, `served the overridden answer (${victim.cacheStatus})`);
});

test('a GET with a body is not stored: the body may choose the answer (a search), and it is not in the key', async () => {
  const r = await request(`${gw.url}/search/1`, { method: 'GET', body: '{"q":"secret"}', headers: { 'content-type': 'application/json' } });
  assert.match(await r.body.text(), /secret/);
  const victim = await get('/search/1');
  assert.doesNotMatch(victim.body, /secret/, `served the answer to another body (${victim.cacheStatus})`);
});

test("a 304's Set-Cookie is not merged into the stored response: the revalidating client's cookie would go to everyone after it", async () => {
  const first = await request(`${gw.url}/revalidated/1`);
  assert.equal(await first.body.text(), 'the representation');
  const second = await request(`${gw.url}/revalidated/1`);
  await second.body.text();
  assert.equal(second.headers['set-cookie'], 'sid=first-revalidator', 'the client that revalidated gets its cookie');
  const third = await request(`${gw.url}/revalidated/1`);
  assert.equal(await third.body.text(), 'the representation');
  assert.equal(third.headers['set-cookie'], undefined, `another client got the cookie (${String(third.headers['cache-status'])})`);
});

test('a HEAD or a Range request does not lead the coalescing: GETs that arrive while it is at the service still make one request', async () => {
  const first: Record<string, () => Promise<unknown>> = {
    head: async () => (await request(`${gw.url}/slow-after-head/head`, { method: 'HEAD' })).body.text(),
    range: () => get('/slow-after-head/range', { range: 'bytes=0-0' }),
  };
  for (const [name, send] of Object.entries(first)) {
    const before = slowGets;
    const leader = send();
    await new Promise((r) => setTimeout(r, 30));
    const gets = await Promise.all(Array.from({ length: 5 }, () => get(`/slow-after-head/${name}`)));
    await leader;
    for (const g of gets) assert.equal(g.body, 'slow');
    const expected = name === 'range' ? 2 : 1; // the Range request is a GET itself
    assert.equal(slowGets - before, expected, `the GETs waited on the ${name}, then all went to the service`);
  }
});

test('X-Forwarded-Scheme, X-Original-URL and their like, passed on from any client, are keyed', async () => {
  for (const [name, value] of [
    ['x-forwarded-scheme', 'gopher'],
    ['x-original-url', '/admin'],
  ] as const) {
    const path = `/links/3-${name}`;
    const poisoned = await get(path, { [name]: value });
    assert.ok(poisoned.body.includes(value), poisoned.body);
    const victim = await get(path);
    assert.doesNotMatch(victim.body, /gopher|admin/, `served the answer built from another client's ${name} (${victim.cacheStatus})`);
  }
});

test('a write with the API key in the query invalidates the stored GETs that carried it (key-auth takes it out of the query first)', async () => {
  const path = '/qk/item?apikey=carol-key-0123456789';
  const first = await get(path);
  assert.equal(first.status, 200);
  assert.match((await get(path)).cacheStatus, /hit/);
  const write = await request(`${gw.url}${path}`, { method: 'POST', body: 'x' });
  assert.equal(write.statusCode, 200);
  await write.body.text();
  await new Promise((r) => setTimeout(r, 50));
  const after = await get(path);
  assert.doesNotMatch(after.cacheStatus, /hit/, 'the stored GET outlived the write');
});
