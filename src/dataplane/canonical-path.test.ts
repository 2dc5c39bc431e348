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
    '/a%2Fb', '/a%2fb', '/a%5Cb', '/a\\b', '/a%00', '/a%0d%0a', '/%2e%2e/etc', '/a/%2E/b', '/.%2e/x',
    '/a%252e%252e', '/a%252F', '/a%255c', '/a%zz', '/a%4', '/%ff', '/..', '/a/../..', 'a/b', '', '/a#b',
  ]) {
    assert.equal(canonicalizePath(p), undefined, p);
  }
});

test('a dot segment with path parameters (";") is refused: Java servers read "..;" as ".."', () => {
  for (const p of [
    '/api/v1/..;/admin', '/api/v1/.;/admin', '/api/v1/..;', '/..;/x', '/a/..;jsessionid=1/b', '/a/.;x=1',
    '/api/v1/%2e%2e;/admin', '/api/v1/%2E%2E;/admin', '/a/.%2e;x=1/b', '/a/%2E.;/b', '/a/%2e;/b',
    '/a/..%3b/b', '/a/..%3B/b', '/a/.%3B/b', '/a//..;/b',
  ]) {
    assert.equal(canonicalizePath(p), undefined, p);
  }
});

test('";" elsewhere in a segment is an ordinary character', () => {
  for (const p of ['/a;b', '/a/b;c=d/e', '/a/...;/b', '/a/..x;/b', '/a/;/b', '/a/x..;/b', '/a/b;..']) {
    assert.equal(canonicalizePath(p), p, p);
  }
  assert.equal(canonicalizePath('/a/%41;x/../b'), '/a/b');
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
