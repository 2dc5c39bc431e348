// A hostile review of the console's server side, over real HTTP against real gateways: each test
// here failed before the fix it names (docs/dashboard.md, "Security").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestGateway } from './helpers/gateway.js';

const TOKEN = 'console-review-token-1';
const base = { services: { s: { targets: [{ url: 'http://127.0.0.1:9' }] } }, routes: [{ name: 'r', service: 's' }] };

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function raw(url: string, path: string, method = 'GET', headers: Record<string, string> = {}, body?: string): Promise<Raw> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('login attempts sent at once are throttled as one after another: at most 10 wrong tokens are compared', async () => {
  const g = await startTestGateway({ ...base, admin: { token: TOKEN } });
  try {
    const u = new URL(g.adminUrl);
    const n = 30;
    // Every request's headers first (the server starts on each), the bodies only once all have started.
    const pending: { req: http.ClientRequest; body: string; done: Promise<number> }[] = [];
    for (let i = 0; i < n; i++) {
      const body = JSON.stringify({ token: `wrong-${i}` });
      const req = http.request({
        host: u.hostname,
        port: u.port,
        path: '/ui/session',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      });
      const done = new Promise<number>((resolve, reject) => {
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
      });
      req.flushHeaders();
      pending.push({ req, body, done });
    }
    // A round trip after every header went out: the server has read them all by now.
    assert.equal((await raw(g.adminUrl, '/health')).status, 200);
    for (const p of pending) p.req.end(p.body);
    const statuses = await Promise.all(pending.map((p) => p.done));
    const compared = statuses.filter((s) => s === 401).length;
    const throttled = statuses.filter((s) => s === 429).length;
    assert.equal(compared, 10, `statuses: ${statuses.join(',')}`);
    assert.equal(throttled, n - 10);
  } finally {
    await g.stop();
  }
});

/** An HTTP server on 127.0.0.1:0 that records what it is sent and answers `answer`. */
async function recorder(answer: object): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push(`${req.headers.authorization ?? ''} ${body}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/introspect`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

test('"[redacted]" does not follow its object to a new destination: an introspection secret stays with its endpoint', async () => {
  const idp = await recorder({ active: true, sub: 'someone' });
  const evil = await recorder({ active: true, sub: 'someone' });
  const upstream = await recorder({});
  const secret = 'introspection-client-secret-1';
  const policy = { type: 'oauth2-introspection', endpoint: idp.url, clientId: 'gw', clientSecret: secret, unknownConsumer: 'anonymous' };
  const g = await startTestGateway({
    services: { s: { targets: [{ url: upstream.url.replace('/introspect', '') }] } },
    routes: [{ name: 'r', service: 's', policies: [policy] }],
    admin: { token: TOKEN },
  });
  const auth = { authorization: `Bearer ${TOKEN}` };
  try {
    const yaml = await raw(g.adminUrl, '/config?format=yaml', 'GET', auth);
    assert.equal(yaml.status, 200);
    assert.ok(!yaml.body.includes(secret));
    assert.ok(yaml.body.includes(idp.url));
    // The endpoint moved to another server, the secret sent back as GET /config showed it.
    const moved = yaml.body.replace(idp.url, evil.url);
    const r = await raw(g.adminUrl, '/config', 'POST', { ...auth, 'content-type': 'application/yaml' }, moved);
    assert.equal(r.status, 400, r.body);
    const body = JSON.parse(r.body) as { error: { code: string; details: { path: string; line?: number }[] } };
    assert.equal(body.error.code, 'CONFIG_INVALID');
    assert.ok(
      body.error.details.some((d) => d.path === 'routes[0].policies[0].endpoint' && d.line !== undefined),
      JSON.stringify(body.error.details),
    );
    // Whatever was answered, the data plane never sends the secret to the new endpoint.
    const call = await raw(g.url, '/x', 'GET', { authorization: 'Bearer some-access-token' });
    assert.equal(call.status, 200, call.body);
    assert.equal(evil.seen.length, 0, `sent to the new endpoint: ${evil.seen.join(' | ')}`);
    assert.equal(idp.seen.length, 1);
    // Another change beside the kept secret is fine; so is the new endpoint with the secret written out.
    const slower = yaml.body.replace(/timeout: 5s/, 'timeout: 6s');
    assert.notEqual(slower, yaml.body);
    assert.equal((await raw(g.adminUrl, '/config', 'POST', { ...auth, 'content-type': 'application/yaml' }, slower)).status, 200);
    const written = moved.replace(/clientSecret: "?\[redacted\]"?/, `clientSecret: ${secret}`);
    assert.notEqual(written, moved);
    const ok = await raw(g.adminUrl, '/config', 'POST', { ...auth, 'content-type': 'application/yaml' }, written);
    assert.equal(ok.status, 200, ok.body);
  } finally {
    await g.stop();
    await Promise.all([idp.close(), evil.close(), upstream.close()]);
  }
});

test("the console's session cookie is never forwarded upstream (a browser sends it to the data plane's port too)", async () => {
  const seen: (string | undefined)[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(req.headers.cookie);
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as { port: number }).port;
  const g = await startTestGateway({
    services: { s: { targets: [{ url: `http://127.0.0.1:${port}` }] } },
    routes: [{ name: 'r', service: 's' }],
    admin: { token: TOKEN },
  });
  try {
    const login = await raw(g.adminUrl, '/ui/session', 'POST', { 'content-type': 'application/json' }, JSON.stringify({ token: TOKEN }));
    assert.equal(login.status, 200);
    const cookie = login.headers['set-cookie']![0]!.split(';')[0]!;
    // Cookies ignore ports: the browser that holds the console's cookie for 127.0.0.1 sends it to
    // the data plane on 127.0.0.1 as well, beside the application's own cookies.
    assert.equal((await raw(g.url, '/a', 'GET', { cookie: `app=1; ${cookie}; theme=dark` })).status, 200);
    assert.equal((await raw(g.url, '/b', 'GET', { cookie })).status, 200);
    assert.equal((await raw(g.url, '/c', 'GET', { cookie: 'app=2' })).status, 200);
    assert.deepEqual(seen, ['app=1; theme=dark', undefined, 'app=2']);
    // What an upstream holding the cookie could have done with it: the session's CSRF value, then any change.
    assert.equal((await raw(g.adminUrl, '/ui/session', 'GET', { cookie })).status, 200);
  } finally {
    await g.stop();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
});

test("a service cannot set the console's cookie through the data plane; its other cookies pass", async () => {
  const upstream = http.createServer((_req, res) => {
    res.setHeader('set-cookie', [
      'app=1; Path=/',
      'gatehouse_console=planted; Path=/; HttpOnly',
      ' gatehouse_console ; Path=/',
      'theme=dark',
    ]);
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as { port: number }).port;
  const g = await startTestGateway({
    services: { s: { targets: [{ url: `http://127.0.0.1:${port}` }] } },
    routes: [{ name: 'r', service: 's' }],
  });
  try {
    const res = await raw(g.url, '/a');
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers['set-cookie'], ['app=1; Path=/', 'theme=dark']);
  } finally {
    await g.stop();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
});

test('a body nested thousands of [ deep is refused at its line, twice over, and the gateway keeps serving', async () => {
  const g = await startTestGateway({ ...base, admin: { token: TOKEN } });
  try {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const deep = '{"routes":' + '['.repeat(2000) + ']'.repeat(2000) + '}';
    // The second such body used to abort the whole process (V8: "RegExpCompiler Allocation failed").
    for (const [path, type] of [
      ['/validate', 'application/yaml'],
      ['/config', 'application/json'],
      ['/explain', 'application/json'],
      ['/validate?diff=1', 'application/yaml'],
    ] as const) {
      const r = await raw(g.adminUrl, path, 'POST', { ...auth, 'content-type': type }, deep);
      assert.equal(r.status, 400, `${path}: ${r.body}`);
      const body = JSON.parse(r.body) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'ADMIN_BAD_BODY');
      assert.match(body.error.message, /line 1, column \d+: .*nested/, path);
    }
    assert.equal((await raw(g.adminUrl, '/health')).status, 200);
    assert.equal((await raw(g.url, '/x')).status, 502); // the route's service is down: the data plane answers
    // Ordinary nesting is untouched.
    const running = await raw(g.adminUrl, '/config', 'GET', auth);
    const ok = await raw(g.adminUrl, '/validate', 'POST', { ...auth, 'content-type': 'application/json' }, running.body);
    assert.equal(ok.status, 200, ok.body);
  } finally {
    await g.stop();
  }
});
