import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalizePath, encodePathForUpstream } from './canonical-path.js';

test('plain paths are returned unchanged', () => {
  for (const p of ['/', '/a', '/a/b', '/a/b/', '/a.b/c..d/.e', '/a/:x', '/%']) {
    if (p === '/%') continue;
    assert.equal(canonicalizePath(p), p);
  }
});

test('decodes once', () => {
  assert.equal(canonicalizePath('/a%20b'), '/a b');
  assert.equal(canonicalizePath('/caf%C3%A9'), '/café');
  assert.equal(canonicalizePath('/a%25b'), '/a%b');
});

test('resolves dot segments and merges slashes', () => {
  assert.equal(canonicalizePath('/a/./b'), '/a/b');
  assert.equal(canonicalizePath('/a/b/../c'), '/a/c');
  assert.equal(canonicalizePath('/a/b/..'), '/a/');
  assert.equal(canonicalizePath('/a/.'), '/a/');
  assert.equal(canonicalizePath('//a///b'), '/a/b');
  assert.equal(canonicalizePath('//evil.example/x'), '/evil.example/x');
  assert.equal(canonicalizePath('/a//'), '/a/');
});

test('refuses what could change meaning between hops', () => {
  for (const p of [
    '/a%2Fb',
    '/a%2fb',
    '/a%5Cb',
    '/a\\b',
    '/a%00',
    '/a%0d%0a',
    '/%2e%2e/etc',
    '/a/%2E/b',
    '/.%2e/x',
    '/a%252e%252e',
    '/a%252F',
    '/a%255c',
    '/a%zz',
    '/a%4',
    '/%ff',
    '/..',
    '/a/../..',
    'a/b',
    '',
    '/a#b',
  ]) {
    assert.equal(canonicalizePath(p), undefined, p);
  }
});

test('a dot segment with path parameters (";") is refused: Java servers read "..;" as ".."', () => {
  for (const p of [
    '/api/v1/..;/admin',
    '/api/v1/.;/admin',
    '/api/v1/..;',
    '/..;/x',
    '/a/..;jsessionid=1/b',
    '/a/.;x=1',
    '/api/v1/%2e%2e;/admin',
    '/api/v1/%2E%2E;/admin',
    '/a/.%2e;x=1/b',
    '/a/%2E.;/b',
    '/a/%2e;/b',
    '/a/..%3b/b',
    '/a/..%3B/b',
    '/a/.%3B/b',
    '/a//..;/b',
  ]) {
    assert.equal(canonicalizePath(p), undefined, p);
  }
});

test('any ";" in the path, literal or encoded, is refused by default (StrictHttpFirewall)', () => {
  for (const p of [
    '/a;b',
    '/api/admin;x/users',
    '/api/admin%3Bx/users',
    '/api/admin%3bx/users',
    '/a/b;',
    '/a/b%3B',
    '/a/b%3b',
    '/;/x',
    '/;x/y',
    '/%3B/x',
    '/%3bx/y',
    '/a/;/b',
    '/a/b;c=d/e',
    '/a/...;/b',
    '/a/x..;/b',
    '/a/b;..',
    '/a/%41;x/../b',
    '/a%20b;c',
    '/a//b;c',
    '/a/%3B',
    '/a/b%253B',
    '/a/b%253b',
    '/a/b%25%33%42',
  ]) {
    assert.equal(canonicalizePath(p), undefined, p);
    assert.equal(canonicalizePath(p, false), undefined, p);
  }
});

test('with allowSemicolonInPath a literal ";" elsewhere in a segment is an ordinary character', () => {
  for (const p of [
    '/a;b',
    '/a/b;c=d/e',
    '/a/...;/b',
    '/a/..x;/b',
    '/a/;/b',
    '/a/x..;/b',
    '/a/b;..',
    '/;x/y',
    '/a/b;',
    '/api/admin;x/users',
  ]) {
    assert.equal(canonicalizePath(p, true), p, p);
  }
  assert.equal(canonicalizePath('/a/%41;x/../b', true), '/a/b');
  assert.equal(canonicalizePath('/a//b;c', true), '/a/b;c');
  // Dot segments with parameters stay refused, and a double-encoded ";" too.
  for (const p of ['/a/..;/b', '/a/.;x=1', '/..;/x', '/a/..%3B/b', '/a/%2e%2e%3b/b', '/a/b%253B', '/a/b%25%33%42']) {
    assert.equal(canonicalizePath(p, true), undefined, p);
  }
});

test('with allowSemicolonInPath an encoded ";" stays encoded: data, never a parameter delimiter', () => {
  assert.equal(canonicalizePath('/api/admin%3Bx/users', true), '/api/admin%3Bx/users');
  assert.equal(canonicalizePath('/api/admin%3bx/users', true), '/api/admin%3Bx/users');
  assert.equal(canonicalizePath('/%3B/x', true), '/%3B/x');
  assert.equal(canonicalizePath('/a/b%3b', true), '/a/b%3B');
  assert.equal(canonicalizePath('/a/%41%3B%42;c%20d', true), '/a/A%3BB;c d');
  assert.equal(canonicalizePath('/a/b%3Bc/../d', true), '/a/d');
  for (const [raw, up] of [
    ['/api/admin%3Bx/users', '/api/admin%3Bx/users'],
    ['/api/admin%3bx/users', '/api/admin%3Bx/users'],
    ['/a/b;c%3Bd', '/a/b;c%3Bd'],
    ['/a%20%3B%25', '/a%20%3B%25'],
    ['/caf%C3%A9%3B', '/caf%C3%A9%3B'],
  ]) {
    assert.equal(encodePathForUpstream(canonicalizePath(raw!, true)!, true), up, raw);
  }
  // A literal "%" (from %25) is still re-encoded as %25.
  assert.equal(encodePathForUpstream(canonicalizePath('/a%25b', true)!, true), '/a%25b');
});

test('upstream encoding re-encodes only what must be', () => {
  assert.equal(encodePathForUpstream('/a/b-c_d.e~f'), '/a/b-c_d.e~f');
  assert.equal(encodePathForUpstream('/a b'), '/a%20b');
  assert.equal(encodePathForUpstream('/a%b'), '/a%25b');
  assert.equal(encodePathForUpstream('/a?b#c'), '/a%3Fb%23c');
  assert.equal(encodePathForUpstream('/café'), '/caf%C3%A9');
  assert.equal(encodePathForUpstream("/a:b@c;d=e,f+g!h$i&j'(k)*"), "/a:b@c;d=e,f+g!h$i&j'(k)*");
});

test('decode then encode round-trips to an equivalent upstream path', () => {
  for (const p of ['/a%20b', '/caf%C3%A9', '/x%25y', '/q%3Fz']) {
    const c = canonicalizePath(p)!;
    assert.equal(encodePathForUpstream(c).toLowerCase(), p.toLowerCase());
  }
});
