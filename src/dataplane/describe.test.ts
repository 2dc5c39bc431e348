import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../validation/validate.js';
import { compilePlan, noConnect } from './plan.js';
import { explain, formatRouteTable, routeTable } from './describe.js';

const API = ['api.example.com'];
const route = (name: string, paths: string[], extra: Record<string, unknown> = {}) => ({
  name,
  match: { hosts: API, paths, ...extra },
  service: 's',
});

const result = validateConfig({
  listen: [{ port: 8080 }],
  services: { s: { targets: [{ url: 'http://127.0.0.1:9' }] } },
  routes: [
    route('winner', ['/api/users/:id']),
    { ...route('v2', ['/api/users/:id'], { headers: { 'x-api-version': '2' } }), priority: 10 },
    route('beta', ['/api/users/:id'], { query: { beta: { present: true } } }),
    route('writes', ['/api/users/:id'], { methods: ['POST'] }),
    { ...route('admin', ['/api/users/:id']), match: { hosts: ['admin.example.com'], paths: ['/api/users/:id'] } },
    route('later', ['/api/users/:id']),
    route('generic', ['/api/:kind/:id']),
    route('prefix', ['/api/*']),
    { ...route('suffix', ['/api/users/:id']), match: { hosts: ['*.example.com'], paths: ['/api/users/:id'] } },
    { ...route('fallback', ['/api/users/:id']), priority: -1 },
    route('unrelated', ['/other/*']),
  ],
});
assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
const plan = compilePlan(result.config, noConnect);

test('explain: every route whose path matched, with why each one lost', () => {
  const x = explain(plan, 'GET', 'http://api.example.com/api/users/42', {});
  assert.equal(x.matched, true);
  const why = Object.fromEntries(x.candidates!.map((c) => [c.route, c.reason]));
  assert.deepEqual(Object.keys(why).sort(), [
    'admin',
    'beta',
    'fallback',
    'generic',
    'later',
    'prefix',
    'suffix',
    'v2',
    'winner',
    'writes',
  ]);
  assert.deepEqual(
    x.candidates!.map((c) => c.order),
    [...x.candidates!.map((c) => c.order)].sort((a, b) => a - b),
    'in match order',
  );
  assert.equal(
    x
      .candidates!.filter((c) => c.outcome === 'matched')
      .map((c) => c.route)
      .join(),
    'winner',
  );
  assert.match(why.v2!, /^header: x-api-version = "2" does not hold$/);
  assert.match(why.beta!, /^query: beta present does not hold$/);
  assert.match(why.writes!, /^method: GET is not in POST$/);
  assert.match(why.admin!, /^host: "api\.example\.com" is not admin\.example\.com$/);
  assert.match(why.later!, /route "winner" \(#\d+\) comes first on config order: it is later in the config$/);
  assert.match(why.generic!, /comes first on literal prefix length: its literal prefix is shorter than that of \/api\/users\/:id$/);
  assert.match(
    why.prefix!,
    /comes first on path kind: a prefix path \(\/api\/\*\) ranks below a path with parameters \(\/api\/users\/:id\)$/,
  );
  assert.match(why.suffix!, /comes first on host: host \*\.example\.com is less specific than api\.example\.com$/);
  assert.match(why.fallback!, /comes first on priority: priority -1 < 0$/);
});

test('explain: with no winner (404, 405) each candidate says which condition failed', () => {
  const none = explain(plan, 'GET', 'http://elsewhere.test/api/users/42', {});
  assert.equal(none.status, 404);
  assert.ok(none.candidates!.length >= 9);
  for (const c of none.candidates!) assert.match(c.reason, /^host: "elsewhere\.test" is not /, c.route);
  const trace = explain(plan, 'TRACE', 'http://admin.example.com/api/users/42', {});
  assert.equal(trace.status, 405);
  const why = Object.fromEntries(trace.candidates!.map((c) => [c.route, c.reason]));
  assert.match(why.admin!, /^method: TRACE is not in DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT$/);
  assert.match(why.suffix!, /^method: TRACE is not in /);
  assert.match(why.winner!, /^host: "admin\.example\.com" is not api\.example\.com$/);
});

test('explain applies server.allowSemicolonInPath: ";" refused by default, forwarded as sent with it on', () => {
  const cfg = (server: Record<string, unknown>) => {
    const r = validateConfig({
      listen: [{ port: 8080 }],
      server,
      services: { s: { targets: [{ url: 'http://127.0.0.1:9' }] } },
      routes: [{ name: 'api', match: { paths: ['/api/*'] }, service: 's' }],
    });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    return compilePlan(r.config, noConnect);
  };
  const strict = cfg({});
  for (const p of ['/api/admin;x/users', '/api/admin%3Bx/users', 'http://h.test/api/admin%3bx/users']) {
    const x = explain(strict, 'GET', p, {});
    assert.equal(x.status, 400, p);
    assert.match(x.reason, /GW_BAD_PATH/);
  }
  const matrix = cfg({ allowSemicolonInPath: true });
  assert.equal(explain(matrix, 'GET', '/api/admin;x/users', {}).upstream?.path, '/api/admin;x/users');
  assert.equal(explain(matrix, 'GET', '/api/admin%3bx/users?q=1', {}).upstream?.path, '/api/admin%3Bx/users?q=1');
  assert.equal(explain(matrix, 'GET', '/api/..;/x', {}).status, 400);
});

test('the route table shows redirectHttps and websocket, in JSON and as text', () => {
  const r = validateConfig({
    listen: [{ port: 8080 }],
    services: { s: { targets: [{ url: 'http://127.0.0.1:9' }] } },
    routes: [
      { name: 'secure', match: { paths: ['/a'] }, service: 's', redirectHttps: { port: 8443 } },
      { name: 'chat', match: { paths: ['/chat'] }, service: 's', websocket: true, redirectHttps: true },
      { name: 'plain', match: { paths: ['/p'] }, service: 's' },
    ],
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const rows = routeTable(compilePlan(r.config, noConnect));
  const by = Object.fromEntries(rows.map((x) => [x.route, x]));
  assert.deepEqual([by.secure!.redirectHttps, by.secure!.websocket], ['https:8443', false]);
  assert.deepEqual([by.chat!.redirectHttps, by.chat!.websocket], ['https', true]);
  assert.deepEqual([by.plain!.redirectHttps, by.plain!.websocket], [null, false]);
  const text = formatRouteTable(rows);
  assert.match(text, /secure .*redirect https:8443/);
  assert.match(text, /chat .*redirect https, websocket/);
});
