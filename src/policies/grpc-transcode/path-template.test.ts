// Path templates: parsing (Google's grammar and its errors), matching against canonical paths,
// variable values (multi-segment joined with "/"), verbs, and precedence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparePrecedence, matchTemplate, parseTemplate, type PathTemplate } from './path-template.js';

function t(source: string): PathTemplate {
  const r = parseTemplate(source);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.template;
}
function vars(source: string, path: string): Record<string, string> | undefined {
  const m = matchTemplate(t(source), path);
  return m && Object.fromEntries(m);
}

test('a simple variable binds one segment', () => {
  assert.deepEqual(vars('/v1/users/{id}', '/v1/users/42'), { id: '42' });
  assert.equal(vars('/v1/users/{id}', '/v1/users/42/x'), undefined);
  assert.equal(vars('/v1/users/{id}', '/v1/users'), undefined);
  assert.equal(vars('/v1/users/{id}', '/v1/users/'), undefined, 'an empty segment is not a value');
  assert.equal(vars('/v1/users/{id}', '/v2/users/42'), undefined);
});

test('a variable with a sub-template binds its segments joined with "/"', () => {
  assert.deepEqual(vars('/v1/{name=shelves/*/books/*}', '/v1/shelves/s1/books/b2'), { name: 'shelves/s1/books/b2' });
  assert.equal(vars('/v1/{name=shelves/*/books/*}', '/v1/shelves/s1/notes/b2'), undefined);
  assert.equal(vars('/v1/{name=shelves/*/books/*}', '/v1/shelves/s1/books'), undefined);
});

test('"**" matches zero or more segments, only at the end', () => {
  assert.deepEqual(vars('/v1/files/{path=**}', '/v1/files/a/b/c.txt'), { path: 'a/b/c.txt' });
  assert.deepEqual(vars('/v1/files/{path=**}', '/v1/files/a'), { path: 'a' });
  assert.deepEqual(vars('/v1/files/{path=**}', '/v1/files'), { path: '' });
  assert.deepEqual(vars('/v1/{name=**}', '/v1/x/y'), { name: 'x/y' });
  assert.deepEqual(vars('/v1/{name=shelves/**}', '/v1/shelves/1/2'), { name: 'shelves/1/2' });
  assert.equal(vars('/v1/files/{path=**}', '/v2/files/a'), undefined);
  const r = parseTemplate('/v1/**/x');
  assert.deepEqual(r, { ok: false, message: 'path template "/v1/**/x": "**" must be the last segment' });
});

test('bare wildcards and nested field paths', () => {
  assert.deepEqual(vars('/v1/*/users/{user.id}', '/v1/anything/users/7'), { 'user.id': '7' });
  assert.deepEqual(vars('/v1/{a}/{b.c.d}', '/v1/x/y'), { a: 'x', 'b.c.d': 'y' });
  assert.deepEqual(vars('/v1/**', '/v1/p/q'), {});
});

test('a verb is matched literally after the last segment', () => {
  assert.deepEqual(vars('/v1/things/{id}:cancel', '/v1/things/9:cancel'), { id: '9' });
  assert.equal(vars('/v1/things/{id}:cancel', '/v1/things/9'), undefined);
  assert.equal(vars('/v1/things/{id}:cancel', '/v1/things/9:undo'), undefined);
  assert.equal(vars('/v1/things/{id}:cancel', '/v1/things/:cancel'), undefined);
  assert.deepEqual(vars('/v1/{name=**}:run', '/v1/a/b:run'), { name: 'a/b' });
  // Without a verb in the template, a colon is part of the segment.
  assert.deepEqual(vars('/v1/things/{id}', '/v1/things/9:cancel'), { id: '9:cancel' });
});

test('values are the canonical (already decoded) text', () => {
  assert.deepEqual(vars('/v1/users/{id}', '/v1/users/José Ñ'), { id: 'José Ñ' });
  assert.deepEqual(vars('/v1/a%20b/{id}', '/v1/a b/1'), { id: '1' }, 'a literal escape in the template is decoded once');
});

test('syntax errors are reported with the template', () => {
  const bad: [string, string][] = [
    ['v1/users', 'must start with "/"'],
    ['/v1/{id', 'unclosed "{"'],
    ['/v1/{a={b}}', 'variables cannot nest'],
    ['/v1/{1a}', 'bad field path "1a"'],
    ['/v1/{a..b}', 'bad field path "a..b"'],
    ['/v1//x', 'empty segment'],
    ['/v1/', 'empty segment'],
    ['/v1/{id}/{id}', 'field id bound twice'],
    ['/v1/x:', 'bad verb ""'],
    ['/v1/a b', 'bad segment "a b"'],
    ['/v1/{id}x', 'unexpected "x" at 8'],
  ];
  for (const [src, why] of bad)
    assert.deepEqual(parseTemplate(src), { ok: false, message: `path template ${JSON.stringify(src)}: ${why}` }, src);
});

test('shape ignores variable names, so equivalent templates conflict', () => {
  assert.equal(t('/v1/users/{id}').shape, '/v1/users/*');
  assert.equal(t('/v1/users/{name=*}').shape, '/v1/users/*');
  assert.equal(t('/v1/{name=shelves/*}:x').shape, '/v1/shelves/*:x');
});

test('precedence: more literals, then no "**", then fewer wildcards', () => {
  const sorted = ['/v1/{a=**}', '/v1/*/*', '/v1/users/{id}', '/v1/users/{id}:cancel', '/v1/users/me', '/v1/{name=users/**}']
    .map(t)
    .sort(comparePrecedence)
    .map((x) => x.source);
  assert.deepEqual(sorted, ['/v1/users/me', '/v1/users/{id}:cancel', '/v1/users/{id}', '/v1/{name=users/**}', '/v1/*/*', '/v1/{a=**}']);
});

test('an encoded ";" (kept as "%3B" in the canonical path with server.allowSemicolonInPath) is ";" in the value', () => {
  assert.deepEqual(vars('/v1/orgs/{org}/users/{id}', '/v1/orgs/a%3Bb/users/7'), { org: 'a;b', id: '7' });
  assert.deepEqual(vars('/v1/{name=shelves/*/books/*}', '/v1/shelves/%3B/books/x%3By%3B'), { name: 'shelves/;/books/x;y;' });
  assert.deepEqual(vars('/v1/orgs/{org}', '/v1/orgs/a;b'), { org: 'a;b' });
});
