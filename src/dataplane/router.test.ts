import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../validation/validate.js';
import { compilePlan, noConnect, type Plan } from './plan.js';

function plan(routes: unknown[]): Plan {
  const r = validateConfig({ services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } }, routes });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return compilePlan(r.config, noConnect);
}

function find(p: Plan, path: string, opts: { method?: string; host?: string; headers?: Record<string, string>; query?: string } = {}) {
  const res = p.router.find(opts.method ?? 'GET', opts.host ?? '', path, { headers: opts.headers ?? {} }, opts.query ?? '');
  if (res === undefined) return undefined;
  if ('allow' in res) return { allow: res.allow };
  if ('needsBody' in res) return { needsBody: true };
  if ('unreadableBody' in res) return { unreadableBody: true };
  return { route: res.match.entry.route.name, params: res.match.params, rest: res.match.rest };
}

test('exact beats param beats prefix, whatever the config order', () => {
  const p = plan([
    { name: 'prefix', match: { paths: ['/users/*'] }, service: 's' },
    { name: 'param', match: { paths: ['/users/:id'] }, service: 's' },
    { name: 'exact', match: { paths: ['/users/me'] }, service: 's' },
  ]);
  assert.equal(find(p, '/users/me')?.route, 'exact');
  assert.deepEqual(find(p, '/users/42'), { route: 'param', params: { id: '42' }, rest: '' });
  assert.deepEqual(find(p, '/users/42/orders'), { route: 'prefix', params: {}, rest: '42/orders' });
  assert.equal(find(p, '/users')?.route, 'prefix', '"/a/*" matches "/a" itself');
  assert.equal(find(p, '/usersx'), undefined);
});

test('a longer literal prefix wins between prefixes', () => {
  const p = plan([
    { name: 'all', match: { paths: ['/*'] }, service: 's' },
    { name: 'api', match: { paths: ['/api/*'] }, service: 's' },
    { name: 'v1', match: { paths: ['/api/v1/*'] }, service: 's' },
  ]);
  assert.equal(find(p, '/api/v1/x')?.route, 'v1');
  assert.equal(find(p, '/api/v2/x')?.route, 'api');
  assert.equal(find(p, '/other')?.route, 'all');
  assert.equal(find(p, '/')?.route, 'all');
});

test('priority overrides specificity; config order breaks remaining ties', () => {
  const p = plan([
    { name: 'first', match: { paths: ['/a/:x'] }, service: 's' },
    { name: 'second', match: { paths: ['/a/:y'] }, service: 's' },
    { name: 'boosted', priority: 10, match: { paths: ['/*'] }, service: 's', policies: [] },
  ]);
  assert.equal(find(p, '/a/1')?.route, 'boosted');
  const q = plan([
    { name: 'first', match: { paths: ['/a/:x'] }, service: 's' },
    { name: 'second', match: { paths: ['/a/:y'] }, service: 's' },
  ]);
  assert.equal(find(q, '/a/1')?.route, 'first');
});

test('hosts: exact before wildcard before none; wildcard needs a subdomain', () => {
  const p = plan([
    { name: 'any', match: { paths: ['/x'] }, service: 's' },
    { name: 'wild', match: { hosts: ['*.example.com'], paths: ['/*'] }, service: 's' },
    { name: 'exact', match: { hosts: ['api.example.com'], paths: ['/*'] }, service: 's' },
  ]);
  assert.equal(find(p, '/x', { host: 'api.example.com' })?.route, 'exact');
  assert.equal(find(p, '/x', { host: 'a.b.example.com' })?.route, 'wild');
  assert.equal(find(p, '/x', { host: 'example.com' })?.route, 'any');
  assert.equal(find(p, '/y', { host: 'example.com' }), undefined);
});

test('headers, query and methods narrow a match and fall through to the next route', () => {
  const p = plan([
    { name: 'v2', match: { paths: ['/users/:id'], headers: { 'X-Api-Version': '2' } }, service: 's' },
    { name: 'beta', match: { paths: ['/users/:id'], headers: { 'x-beta': { present: true } } }, service: 's' },
    { name: 'json', match: { paths: ['/users/:id'], query: { format: 'json' } }, service: 's' },
    { name: 'regex', match: { paths: ['/users/:id'], headers: { 'x-client': { regex: '^mobile-' } } }, service: 's' },
    { name: 'writes', match: { methods: ['POST', 'put'], paths: ['/users/*'] }, service: 's' },
    { name: 'v1', match: { paths: ['/users/*'], methods: ['GET'] }, service: 's' },
  ]);
  assert.equal(find(p, '/users/1', { headers: { 'x-api-version': '2' } })?.route, 'v2');
  assert.equal(find(p, '/users/1', { headers: { 'x-beta': '' } })?.route, 'beta');
  assert.equal(find(p, '/users/1', { query: 'format=json' })?.route, 'json');
  assert.equal(find(p, '/users/1', { headers: { 'x-client': 'mobile-ios' } })?.route, 'regex');
  assert.equal(find(p, '/users/1', { headers: { 'x-client': 'web' } })?.route, 'v1');
  assert.equal(find(p, '/users/1', { method: 'PUT' })?.route, 'writes');
  assert.deepEqual(find(p, '/users/1/x', { method: 'DELETE' }), { allow: ['GET', 'POST', 'PUT'] });
});

test('params never match an empty segment', () => {
  const p = plan([{ name: 'p', match: { paths: ['/u/:id'] }, service: 's' }]);
  assert.equal(find(p, '/u/'), undefined);
  assert.equal(find(p, '/u/a')?.route, 'p');
});

test('the route table lists entries in match order', () => {
  const p = plan([
    { name: 'b', match: { paths: ['/*'] }, service: 's' },
    { name: 'a', match: { hosts: ['x.io'], paths: ['/a', '/a/*'] }, service: 's' },
  ]);
  assert.deepEqual(
    p.router.entries.map((e) => `${e.route.name} ${e.path.source}`),
    ['a /a', 'a /a/*', 'b /*'],
  );
});

test("a wildcard's rest is the path after the pattern's segments, empty segments and trailing slashes kept", () => {
  const p = plan([
    { name: 'all', match: { paths: ['/*'] }, service: 's' },
    { name: 'a', match: { paths: ['/a/*'] }, service: 's' },
    { name: 'abc', match: { paths: ['/a/b/c/*'] }, service: 's' },
  ]);
  const cases: [string, string, string][] = [
    ['/', 'all', ''],
    ['/x', 'all', 'x'],
    ['/x/y/', 'all', 'x/y/'],
    ['/a', 'a', ''],
    ['/a/', 'a', ''],
    ['/a/x//y', 'a', 'x//y'],
    ['/a/b/c', 'abc', ''],
    ['/a/b/c/', 'abc', ''],
    ['/a/b/c/d/e/', 'abc', 'd/e/'],
  ];
  for (const [path, route, rest] of cases) {
    const got = find(p, path);
    assert.deepEqual([got?.route, got?.rest], [route, rest], path);
    // The same as the segments after the pattern's, joined again.
    const n = route === 'all' ? 0 : route === 'a' ? 1 : 3;
    assert.equal(rest, path.slice(1).split('/').slice(n).join('/'), path);
  }
  // Routes without params share one empty, frozen params object.
  assert.ok(Object.isFrozen(find(p, '/x')?.params));
});
