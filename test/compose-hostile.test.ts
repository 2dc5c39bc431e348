// Composite routes (issue 20) against hostile input: what a client (or a service's answer) puts
// into a call's path, query and headers; the route's policies run once per call; many calls at
// once; the client going away while calls run; answers nested deeper than the stack.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, testConfig, type TestGateway } from './helpers/gateway.js';
import { waitFor } from './helpers/child.js';
import { validateConfig } from '../src/validation/validate.js';

let up: Upstream;
let gw: TestGateway;
/** Requests to /slow that the gateway abandoned before their answer. */
let slowClosed = 0;
let slowArrived = 0;

before(async () => {
  up = await startUpstream((req, res) => {
    // The service reads its path as WHATWG URL parsing does (Fetch-based servers, Node's URL): "%2E%2E" is "..".
    const url = new URL(req.url!, 'http://x');
    if (url.pathname.startsWith('/slow')) {
      slowArrived++;
      res.on('close', () => {
        if (!res.writableFinished) slowClosed++;
      });
      setTimeout(() => res.end('{}'), 5000).unref();
      return;
    }
    if (url.pathname.startsWith('/gz')) {
      // Codes its answer unless told identity (/gz), or always (/gz-always).
      const plain = JSON.stringify({ zipped: false });
      if (req.headers['accept-encoding'] === 'identity' && url.pathname === '/gz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(plain);
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      return void res.end(gzipSync(JSON.stringify({ zipped: true })));
    }
    if (url.pathname === '/secret') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ token: 's3cr3t-token', n: 1 }));
    }
    if (url.pathname === '/list') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(Array.from({ length: 12 }, (_, i) => i)));
    }
    if (url.pathname === '/deep') {
      const n = Number(url.searchParams.get('n') ?? 100_000);
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('['.repeat(n) + ']'.repeat(n));
    }
    const body = JSON.stringify({ path: url.pathname, q: url.searchParams.get('q'), name: req.headers['x-name'] ?? null });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  gw = await startTestGateway({
    metrics: { enabled: true },
    services: { up: { targets: [{ url: up.url }] } },
    routes: [
      {
        name: 'dots',
        match: { paths: ['/dots'] },
        compose: {
          calls: [
            { name: 'one', service: 'up', path: '/users/{{query.id}}/profile' },
            { name: 'two', service: 'up', path: '/files/{{query.a}}{{query.b}}/meta', required: false },
          ],
        },
      },
      {
        name: 'query-edits',
        match: { paths: ['/qt'] },
        policies: [{ type: 'request-transformer', query: { remove: ['q'] } }],
        compose: {
          calls: [
            { name: 'a', service: 'up', path: '/a', query: { q: '{{query.q}}' } },
            { name: 'b', service: 'up', path: '/b', query: { q: '{{query.q}}' } },
          ],
        },
      },
      {
        name: 'header-value',
        match: { paths: ['/hdr'] },
        compose: { calls: [{ name: 'a', service: 'up', path: '/a', headers: { 'x-name': '{{query.n}}' } }] },
      },
      {
        name: 'many',
        match: { paths: ['/many'] },
        compose: {
          calls: [
            ...Array.from({ length: 11 }, (_, i) => ({ name: `c${i}`, service: 'up', path: `/c${i}` })),
            { name: 'list', service: 'up', path: '/list', hidden: true },
            { name: 'each', service: 'up', path: '/e/{{item}}', forEach: 'calls.list.body' },
          ],
        },
      },
      {
        name: 'gone',
        match: { paths: ['/gone'] },
        compose: {
          calls: [
            { name: 'a', service: 'up', path: '/slow/a' },
            { name: 'b', service: 'up', path: '/slow/b' },
          ],
        },
      },
      {
        name: 'coded',
        match: { paths: ['/coded'] },
        compose: {
          calls: [
            { name: 'plain', service: 'up', path: '/gz' },
            { name: 'always', service: 'up', path: '/gz-always', required: false },
          ],
        },
      },
      {
        name: 'reshape-error',
        match: { paths: ['/reshape-error'] },
        compose: {
          reshape: '{ "n": $number($calls.s.body.token) }',
          calls: [{ name: 's', service: 'up', path: '/secret', hidden: true }],
        },
      },
      {
        name: 'deep',
        match: { paths: ['/deep'] },
        compose: { calls: [{ name: 'a', service: 'up', path: '/deep', query: { n: '{{query.n}}' }, pick: ['[*]'] }] },
      },
      {
        name: 'deep-body',
        match: { paths: ['/deep-body'], methods: ['POST'] },
        compose: { calls: [{ name: 'a', service: 'up', method: 'POST', path: '/a', body: { x: '{{body.x}}' } }] },
      },
    ],
  });
});

after(async () => {
  await gw.stop();
  await up.close();
});

async function get(path: string, init: Parameters<typeof request>[1] = {}) {
  const res = await request(gw.url + path, init);
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, body: JSON.parse(text) as Record<string, unknown> };
}

test('a value that would be a "." or ".." segment fails the call: it is never sent (%2E%2E is ".." to a WHATWG URL parser)', async () => {
  for (const id of ['..', '.']) {
    const before = up.seen.length;
    const r = await get(`/dots?id=${id}&a=x&b=y`);
    assert.equal(r.status, 502, r.text);
    const err = r.body.error as { code: string; details: { call: string; reason: string } };
    assert.equal(err.code, 'GW_COMPOSE_CALL_FAILED');
    assert.equal(err.details.call, 'one');
    assert.match(err.details.reason, /"\." or "\.\." segment/);
    assert.ok(!up.seen.slice(before).some((s) => s.url.startsWith('/users')), 'no request under /users was made');
  }
  // Two values that are harmless alone make one ".." segment together.
  const before = up.seen.length;
  const r = await get('/dots?id=7&a=.&b=.');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body._failed, ['two']);
  assert.deepEqual(
    up.seen.slice(before).map((s) => s.url),
    ['/users/7/profile'],
  );
  // Dots inside a segment are data: sent (encoded as they are).
  const fine = await get('/dots?id=...&a=.x&b=y.');
  assert.equal(fine.status, 200, fine.text);
  assert.equal((fine.body.one as { path: string }).path, '/users/.../profile');
  assert.equal((fine.body.two as { path: string }).path, '/files/.xy./meta');
});

test('a path value that is missing or empty fails the call unsent: "/users/{{query.id}}" never becomes "/users/"', async () => {
  for (const q of ['', '?id=', '?id=7&b=x']) {
    const before = up.seen.length;
    const r = await get(`/dots${q}`);
    const failed = q === '?id=7&b=x' ? 'two' : 'one';
    if (failed === 'one') {
      assert.equal(r.status, 502, r.text);
      const err = r.body.error as { code: string; details: { call: string; reason: string } };
      assert.equal(err.details.call, 'one');
      assert.equal(err.details.reason, 'a value of its path is missing or empty');
      assert.ok(!up.seen.slice(before).some((s) => s.url.startsWith('/users')), 'no request under /users was made');
    } else {
      // Any value of the path missing fails the call (here the optional one).
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body._failed, ['two']);
      assert.deepEqual(
        up.seen.slice(before).map((s) => s.url),
        ['/users/7/profile'],
      );
    }
  }
});

test('a request-transformer’s query edits do not change what the next call’s templates read', async () => {
  const r = await get('/qt?q=1');
  assert.equal(r.status, 200, r.text);
  assert.equal((r.body.a as { q: string }).q, '1');
  assert.equal((r.body.b as { q: string }).q, '1');
});

test('a header value a field cannot carry (control characters, beyond Latin-1) is left out; the call is made', async () => {
  for (const n of ['%E2%82%AC', 'a%01b', 'a%7Fb']) {
    const before = up.seen.length;
    const r = await get(`/hdr?n=${n}`);
    assert.equal(r.status, 200, r.text);
    assert.equal((r.body.a as { name: unknown }).name, null);
    assert.equal(up.seen.length, before + 1);
  }
  const ok = await get('/hdr?n=caf%C3%A9');
  assert.equal((ok.body.a as { name: unknown }).name, 'café'); // Latin-1 goes on as it is
});

test('many calls at once raise no MaxListenersExceededWarning (one per request on Node 20)', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    const r = await get('/many');
    assert.equal(r.status, 200, r.text);
    assert.equal(Object.keys(r.body).length, 12);
    assert.equal((r.body.each as unknown[]).length, 12);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings, []);
});

test('the client going away: the calls it cancels are counted (metrics) as cancelled', async () => {
  const ac = new AbortController();
  const pending = request(gw.url + '/gone', { signal: ac.signal }).catch(() => undefined);
  await waitFor('both calls at the service', () => slowArrived === 2 || undefined);
  ac.abort();
  await pending;
  await waitFor('both calls cancelled', () => slowClosed === 2 || undefined);
  const metrics = await waitFor('the request counted', async () => {
    const text = await (await request(gw.adminUrl + '/metrics')).body.text();
    return /gatehouse_requests_total\{[^}]*route="gone"/.test(text) ? text : undefined;
  });
  assert.match(metrics, /gatehouse_compose_calls_total\{route="gone",call="a",service="up",outcome="cancelled"\} 1/);
  assert.match(metrics, /gatehouse_compose_calls_total\{route="gone",call="b",service="up",outcome="cancelled"\} 1/);
});

test('an answer nested deeper than the stack is a 502 naming the call, not a 500', async () => {
  const r = await get('/deep');
  assert.equal(r.status, 502, r.text);
  const err = r.body.error as { code: string; details: { call: string; reason: string } };
  assert.equal(err.code, 'GW_COMPOSE_CALL_FAILED');
  assert.equal(err.details.call, 'a');
  assert.match(err.details.reason, /nests deeper than 500 levels/);
  const fine = await get('/deep?n=500'); // as deep as allowed: composed, picked and sent
  assert.equal(fine.status, 200, fine.text.slice(0, 200));
  assert.equal(fine.text, '{"a":' + '['.repeat(500) + ']'.repeat(500) + '}');
});

test('a client body nested deeper than the stack: 400 GW_BAD_BODY, and no internal message in the answer', async () => {
  const r = await get('/deep-body', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"x":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}',
  });
  assert.equal(r.status, 400, r.text);
  assert.equal((r.body.error as { code: string }).code, 'GW_BAD_BODY');
  assert.doesNotMatch(r.text, /call stack/i);
});

test('validate refuses call headers the gateway sets itself (identity, framing, Host, forwarding): a client could set them', () => {
  for (const name of [
    'X-Consumer-ID',
    'x-anonymous-consumer',
    'Host',
    'accept-encoding',
    'content-length',
    'transfer-encoding',
    'connection',
    'x-forwarded-for',
    'forwarded',
    'via',
    'x-request-id',
  ]) {
    const r = validateConfig(
      testConfig({
        services: { up: { targets: [{ url: 'http://127.0.0.1:9' }] } },
        routes: [{ name: 'r', compose: { calls: [{ name: 'a', service: 'up', path: '/a', headers: { [name]: '{{headers.x}}' } }] } }],
      }),
    );
    const issues = r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
    assert.ok(
      issues.some((i) => i.startsWith(`routes[0].compose.calls[0].headers.${name}: `)),
      `${name}: ${issues.join('\n')}`,
    );
  }
});

test('validate refuses a composite status without content (204, 205): an HTTP/2 client resets a 205 stream with a body', () => {
  for (const status of [204, 205]) {
    const r = validateConfig(
      testConfig({
        services: { up: { targets: [{ url: 'http://127.0.0.1:9' }] } },
        routes: [{ name: 'r', compose: { status, calls: [{ name: 'a', service: 'up', path: '/a' }] } }],
      }),
    );
    const issues = r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
    assert.ok(
      issues.some((i) => i.startsWith('routes[0].compose.status: ')),
      `${status}: ${issues.join('\n')}`,
    );
  }
});

test('a reshape that fails on a value does not answer with the value (a hidden call’s secret)', async () => {
  const r = await get('/reshape-error');
  assert.equal(r.status, 502, r.text);
  assert.equal((r.body.error as { code: string }).code, 'GW_UPSTREAM_BODY_INVALID');
  assert.doesNotMatch(r.text, /s3cr3t/);
  assert.match((r.body.error as { message: string }).message, /D3030/);
});

test('validate refuses a deadline node cannot time (over 24.8 days runs after 1 ms) or of 0', () => {
  for (const [at, compose] of [
    ['timeout', { timeout: '30d' }],
    ['timeout', { timeout: 0 }],
    ['calls[0].timeout', { calls: [{ name: 'a', service: 'up', path: '/a', timeout: '25d' }] }],
  ] as const) {
    const r = validateConfig(
      testConfig({
        services: { up: { targets: [{ url: 'http://127.0.0.1:9' }] } },
        routes: [{ name: 'r', compose: { calls: [{ name: 'a', service: 'up', path: '/a' }], ...compose } }],
      }),
    );
    const issues = r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
    assert.ok(
      issues.some((i) => i.startsWith(`routes[0].compose.${at}: `)),
      `${JSON.stringify(compose)}: ${issues.join('\n')}`,
    );
  }
});

test('validate refuses a CONNECT call (the service’s 2xx would hand over a tunnel, not an answer)', () => {
  const r = validateConfig(
    testConfig({
      services: { up: { targets: [{ url: 'http://127.0.0.1:9' }] } },
      routes: [{ name: 'r', compose: { calls: [{ name: 'a', service: 'up', method: 'connect', path: '/a' }] } }],
    }),
  );
  const issues = r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
  assert.ok(
    issues.some((i) => i.startsWith('routes[0].compose.calls[0].method: ')),
    issues.join('\n'),
  );
});

test('calls ask for an uncoded answer (it is parsed); a coded one fails the call', async () => {
  const r = await get('/coded');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.plain, { zipped: false });
  assert.deepEqual(r.body._failed, ['always']);
  const metrics = await (await request(gw.adminUrl + '/metrics')).body.text();
  assert.match(metrics, /gatehouse_compose_calls_total\{route="coded",call="always",service="up",outcome="2xx"\} 1/);
});
