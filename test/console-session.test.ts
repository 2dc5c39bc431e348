// The console's serving and login over real HTTP against real gateways: its files and their
// security headers, no way out of the file set, login / logout, the session cookie on admin
// endpoints, CSRF and cross-site refusals, the login throttle, the bearer token unchanged, a
// token rotated by a reload ending every session, and the console refused off loopback without a token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/observability/logger.js';
import { runCli, tempDir, type TempDir } from './helpers/child.js';

const TOKEN = 'console-test-token-1';
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const base = { services: { s: { targets: [{ url: 'http://127.0.0.1:9' }] } }, routes: [{ name: 'r', service: 's' }] };

let gw: TestGateway;
let dir: TempDir;
before(async () => {
  gw = await startTestGateway({ ...base, admin: { token: TOKEN } });
  dir = await tempDir();
});
after(async () => {
  await gw.stop();
  await dir.remove();
});

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with the path sent exactly as written (fetch would normalise "/ui/../x"). */
function raw(url: string, path: string, method = 'GET', headers: Record<string, string> = {}, body?: string): Promise<Raw> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function login(g: { adminUrl: string }, token = TOKEN): Promise<{ cookie: string; csrf: string; expiresAt: string }> {
  const r = await raw(g.adminUrl, '/ui/session', 'POST', { 'content-type': 'application/json' }, JSON.stringify({ token }));
  assert.equal(r.status, 200, r.body);
  const setCookie = r.headers['set-cookie']![0]!;
  assert.match(setCookie, /^gatehouse_console=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
  const body = JSON.parse(r.body) as { csrf: string; tokenRequired: boolean; expiresAt: string };
  assert.equal(body.tokenRequired, true);
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrf, expiresAt: body.expiresAt };
}

function assertConsoleHeaders(r: Raw, what: string): void {
  assert.equal(r.headers['content-security-policy'], CSP, what);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(r.headers['referrer-policy'], 'no-referrer', what);
  assert.equal(r.headers['x-frame-options'], 'DENY', what);
}

test('GET / redirects to /ui/; the files carry the CSP and security headers, no-cache and an ETag', async () => {
  const root = await raw(gw.adminUrl, '/');
  assert.equal(root.status, 302);
  assert.equal(root.headers.location, '/ui/');
  for (const [path, type] of [
    ['/ui/', /^text\/html/],
    ['/ui', /^text\/html/],
    ['/ui/index.html', /^text\/html/],
    ['/ui/app.js', /^text\/javascript/],
    ['/ui/app.css', /^text\/css/],
  ] as const) {
    const r = await raw(gw.adminUrl, path);
    assert.equal(r.status, 200, path);
    assert.match(r.headers['content-type']!, type, path);
    assertConsoleHeaders(r, path);
    assert.equal(r.headers['cache-control'], 'no-cache', path);
    const etag = r.headers.etag!;
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/, path);
    const again = await raw(gw.adminUrl, path, 'GET', { 'if-none-match': etag });
    assert.equal(again.status, 304, path);
    assert.equal(again.body, '');
  }
  const html = (await raw(gw.adminUrl, '/ui/')).body;
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
  assert.doesNotMatch(html, /\sstyle=/i, 'no inline style attribute');
});

test('only the built files are served: traversal, encoded dots and unknown names are 404', async () => {
  for (const path of [
    '/ui/../package.json',
    '/ui/..%2fpackage.json',
    '/ui/%2e%2e/package.json',
    '/ui/../../package.json',
    '/ui//etc/passwd',
    '/ui/./index.html',
    '/ui/nope.js',
    '/ui/src/admin/server.js',
    '/ui/app.js/..',
  ]) {
    const r = await raw(gw.adminUrl, path);
    assert.equal(r.status, 404, path);
    assertConsoleHeaders(r, path);
    assert.doesNotMatch(r.body, /"name": "gatehouse"|root:/, path);
  }
  const post = await raw(gw.adminUrl, '/ui/app.js', 'POST');
  assert.equal(post.status, 405);
});

test('GET /ui/session without a session is 401 tokenRequired; a wrong token is 401; a login works on every endpoint', async () => {
  const none = await raw(gw.adminUrl, '/ui/session');
  assert.equal(none.status, 401);
  assertConsoleHeaders(none, 'session');
  const body = JSON.parse(none.body) as { error: { code: string }; tokenRequired: boolean };
  assert.equal(body.error.code, 'ADMIN_UNAUTHORIZED');
  assert.equal(body.tokenRequired, true);

  const wrong = await raw(gw.adminUrl, '/ui/session', 'POST', {}, JSON.stringify({ token: 'nope' }));
  assert.equal(wrong.status, 401);
  assert.equal((JSON.parse(wrong.body) as { error: { code: string } }).error.code, 'ADMIN_UNAUTHORIZED');
  assert.equal(wrong.headers['set-cookie'], undefined);
  const bad = await raw(gw.adminUrl, '/ui/session', 'POST', {}, 'token=x');
  assert.equal(bad.status, 400);

  const s = await login(gw);
  const again = await raw(gw.adminUrl, '/ui/session', 'GET', { cookie: s.cookie });
  assert.equal(again.status, 200);
  const info = JSON.parse(again.body) as { csrf: string; expiresAt: string };
  assert.equal(info.csrf, s.csrf);
  assert.ok(Date.parse(info.expiresAt) > Date.now() + 29 * 60_000);
  assert.ok(Date.parse(info.expiresAt) <= Date.now() + 30 * 60_000);

  for (const path of ['/routes', '/config', '/overview', '/analytics/timeseries?seconds=5', '/consumers'])
    assert.equal((await raw(gw.adminUrl, path, 'GET', { cookie: s.cookie })).status, 200, path);
  // A change with the cookie and its CSRF value, from the console's own origin.
  const host = new URL(gw.adminUrl).host;
  const purge = await raw(gw.adminUrl, '/cache?prefix=x', 'DELETE', {
    cookie: s.cookie,
    'x-gatehouse-csrf': s.csrf,
    origin: `http://${host}`,
    'sec-fetch-site': 'same-origin',
  });
  assert.equal(purge.status, 200, purge.body);
  // Without the cookie nothing changes: still 401.
  assert.equal((await raw(gw.adminUrl, '/routes')).status, 401);
});

test('a change with the cookie but no CSRF value, a wrong one, or from another site is 403 ADMIN_CSRF', async () => {
  const s = await login(gw);
  const host = new URL(gw.adminUrl).host;
  const cases: [string, Record<string, string>][] = [
    ['no csrf header', { cookie: s.cookie }],
    ['wrong csrf', { cookie: s.cookie, 'x-gatehouse-csrf': s.csrf.slice(0, -1) + (s.csrf.endsWith('A') ? 'B' : 'A') }],
    ['cross-site origin', { cookie: s.cookie, 'x-gatehouse-csrf': s.csrf, origin: 'http://evil.example' }],
    ['another port of this host', { cookie: s.cookie, 'x-gatehouse-csrf': s.csrf, origin: `http://127.0.0.1:${gw.port}` }],
    ['origin null', { cookie: s.cookie, 'x-gatehouse-csrf': s.csrf, origin: 'null' }],
    ['sec-fetch-site cross-site', { cookie: s.cookie, 'x-gatehouse-csrf': s.csrf, 'sec-fetch-site': 'cross-site' }],
    ['sec-fetch-site same-site', { cookie: s.cookie, 'x-gatehouse-csrf': s.csrf, 'sec-fetch-site': 'same-site', origin: `http://${host}` }],
  ];
  for (const [what, headers] of cases) {
    for (const [method, path] of [
      ['POST', '/validate'],
      ['DELETE', '/cache?prefix=x'],
      ['POST', '/consumers'],
    ]) {
      // (node's client sends a DELETE body without a length: only POST gets one)
      const body = method === 'POST' ? '{"id":"csrf-victim"}' : undefined;
      const r = await raw(gw.adminUrl, path!, method, { 'content-type': 'application/json', ...headers }, body);
      assert.equal(r.status, 403, `${what} ${method} ${path}: ${r.body}`);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'ADMIN_CSRF', what);
    }
  }
  const consumers = JSON.parse((await raw(gw.adminUrl, '/consumers', 'GET', { cookie: s.cookie })).body) as { consumers: unknown[] };
  assert.equal(consumers.consumers.length, 0, 'nothing was created');
  // GET needs no CSRF value.
  assert.equal((await raw(gw.adminUrl, '/routes', 'GET', { cookie: s.cookie, origin: 'http://evil.example' })).status, 200);
  // A login posted by another site's page is refused too.
  const crossLogin = await raw(gw.adminUrl, '/ui/session', 'POST', { origin: 'http://evil.example' }, JSON.stringify({ token: TOKEN }));
  assert.equal(crossLogin.status, 403);
});

test('the bearer token works as before; with an Authorization header the cookie is not consulted', async () => {
  const s = await login(gw);
  assert.equal((await raw(gw.adminUrl, '/routes', 'GET', { authorization: `Bearer ${TOKEN}` })).status, 200);
  const bearerChange = await raw(gw.adminUrl, '/cache?prefix=x', 'DELETE', { authorization: `Bearer ${TOKEN}` });
  assert.equal(bearerChange.status, 200, 'no CSRF value needed with the token');
  const wrongBearer = await raw(gw.adminUrl, '/routes', 'GET', { authorization: 'Bearer wrong', cookie: s.cookie });
  assert.equal(wrongBearer.status, 401);
});

test('logout needs the CSRF value, ends the session and clears the cookie', async () => {
  const s = await login(gw);
  const noCsrf = await raw(gw.adminUrl, '/ui/session', 'DELETE', { cookie: s.cookie });
  assert.equal(noCsrf.status, 403);
  assert.equal((await raw(gw.adminUrl, '/routes', 'GET', { cookie: s.cookie })).status, 200, 'still logged in');
  const out = await raw(gw.adminUrl, '/ui/session', 'DELETE', { cookie: s.cookie, 'x-gatehouse-csrf': s.csrf });
  assert.equal(out.status, 204);
  assert.match(out.headers['set-cookie']![0]!, /^gatehouse_console=; .*Max-Age=0/);
  assert.equal((await raw(gw.adminUrl, '/routes', 'GET', { cookie: s.cookie })).status, 401);
  assert.equal((await raw(gw.adminUrl, '/ui/session', 'GET', { cookie: s.cookie })).status, 401);
  assert.equal((await raw(gw.adminUrl, '/ui/session', 'DELETE', { cookie: s.cookie, 'x-gatehouse-csrf': s.csrf })).status, 401);
});

test('10 failed logins a minute: the next attempt is 429 ADMIN_TOO_MANY_LOGINS, even with the right token', async () => {
  const g = await startTestGateway({ ...base, admin: { token: TOKEN } });
  try {
    for (let i = 0; i < 10; i++) {
      const r = await raw(g.adminUrl, '/ui/session', 'POST', {}, JSON.stringify({ token: `guess-${i}` }));
      assert.equal(r.status, 401, `attempt ${i + 1}`);
    }
    const blocked = await raw(g.adminUrl, '/ui/session', 'POST', {}, JSON.stringify({ token: TOKEN }));
    assert.equal(blocked.status, 429);
    assert.equal((JSON.parse(blocked.body) as { error: { code: string } }).error.code, 'ADMIN_TOO_MANY_LOGINS');
    const wait = Number(blocked.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 60, String(wait));
    assert.equal(blocked.headers['set-cookie'], undefined);
    // The bearer token is not throttled.
    assert.equal((await raw(g.adminUrl, '/routes', 'GET', { authorization: `Bearer ${TOKEN}` })).status, 200);
  } finally {
    await g.stop();
  }
});

test('a reload that changes admin.token ends every session; the new token logs in', async () => {
  const yaml = (token: string) => `
log: { level: silent }
accessLog: false
listen: [{ port: 0, host: 127.0.0.1 }]
admin: { port: 0, host: 127.0.0.1, token: ${token} }
services: { s: { targets: [{ url: "http://127.0.0.1:9" }] } }
routes: [{ name: r, service: s }]
`;
  const file = await dir.file('rotate.yaml', yaml('first-token'));
  const g: Gateway = await startGateway({ configPath: file, watch: false, logger: silentLogger });
  try {
    const adminUrl = `http://127.0.0.1:${g.admin!.port}`;
    const s = await login({ adminUrl }, 'first-token');
    assert.equal((await raw(adminUrl, '/routes', 'GET', { cookie: s.cookie })).status, 200);
    // A reload that changes something else keeps the session.
    await dir.file('rotate.yaml', yaml('first-token') + 'policies: []\n');
    await g.instance.reloadFromFile('test', true);
    assert.equal((await raw(adminUrl, '/routes', 'GET', { cookie: s.cookie })).status, 200);
    await dir.file('rotate.yaml', yaml('second-token'));
    const applied = await g.instance.reloadFromFile('test', true);
    assert.ok(applied?.ok, JSON.stringify(applied));
    assert.equal((await raw(adminUrl, '/routes', 'GET', { cookie: s.cookie })).status, 401, 'the session ended');
    assert.equal((await raw(adminUrl, '/routes', 'GET', { authorization: 'Bearer first-token' })).status, 401);
    assert.equal((await raw(adminUrl, '/routes', 'GET', { authorization: 'Bearer second-token' })).status, 200);
    const fresh = await login({ adminUrl }, 'second-token');
    assert.equal((await raw(adminUrl, '/routes', 'GET', { cookie: fresh.cookie })).status, 200);
  } finally {
    await g.stop();
  }
});

test('without a token (loopback) GET /ui/session opens a session at once, but not for another site', async () => {
  const g = await startTestGateway(base);
  try {
    const r = await raw(g.adminUrl, '/ui/session');
    assert.equal(r.status, 200, r.body);
    const body = JSON.parse(r.body) as { csrf: string; tokenRequired: boolean };
    assert.equal(body.tokenRequired, false);
    const cookie = r.headers['set-cookie']![0]!.split(';')[0]!;
    // Changes made with that cookie are CSRF-checked like any other.
    assert.equal((await raw(g.adminUrl, '/cache?prefix=x', 'DELETE', { cookie })).status, 403);
    assert.equal((await raw(g.adminUrl, '/cache?prefix=x', 'DELETE', { cookie, 'x-gatehouse-csrf': body.csrf })).status, 200);
    const foreign = await raw(g.adminUrl, '/ui/session', 'GET', { origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers['set-cookie'], undefined);
    const rebound = await raw(g.adminUrl, '/ui/session', 'GET', { host: `evil.example:${new URL(g.adminUrl).port}` });
    assert.equal(rebound.status, 403);
  } finally {
    await g.stop();
  }
});

test('admin.console: false serves no console; off loopback without a token the console is refused', async () => {
  const g = await startTestGateway({ ...base, admin: { console: false } });
  try {
    assert.equal((await raw(g.adminUrl, '/ui/')).status, 404);
    assert.equal((await raw(g.adminUrl, '/ui/session')).status, 404);
  } finally {
    await g.stop();
  }
  const config = (admin: string) => `
accessLog: false
listen: [{ port: 0, host: 127.0.0.1 }]
admin: ${admin}
services: { s: { targets: [{ url: "http://127.0.0.1:9" }] } }
routes: [{ name: r, service: s }]
`;
  const refused = await runCli([
    'validate',
    '-c',
    await dir.file('console-open.yaml', config('{ port: 0, host: 0.0.0.0, allowRemoteWithoutToken: true }')),
  ]);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /^admin\.console: .*needs one there/m);
  const off = await runCli([
    'validate',
    '-c',
    await dir.file('console-off.yaml', config('{ port: 0, host: 0.0.0.0, allowRemoteWithoutToken: true, console: false }')),
  ]);
  assert.equal(off.code, 0, off.stdout + off.stderr);
  // POST /config refuses it the same way.
  const res = await raw(
    gw.adminUrl,
    '/validate',
    'POST',
    { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    JSON.stringify(testConfig({ ...base, admin: { host: '0.0.0.0', allowRemoteWithoutToken: true } })),
  );
  assert.equal(res.status, 400);
  assert.deepEqual(
    (JSON.parse(res.body) as { error: { details: { path: string }[] } }).error.details.map((d) => d.path),
    ['admin.console'],
  );
});
