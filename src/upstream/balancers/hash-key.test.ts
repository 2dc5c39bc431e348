import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHashOn, validateHashOn, type HashKeyInput } from './hash-key.js';

function input(over: Partial<HashKeyInput> = {}): HashKeyInput {
  return { headers: {}, clientIp: '203.0.113.7', consumerId: undefined, path: '/orders/42', query: '', ...over };
}

test('hashOn: each source gives its key', () => {
  const req = input({
    headers: { 'x-tenant': 'acme', cookie: 'theme=dark; sid="abc123"; x=1' },
    consumerId: 'c-17',
    query: 'page=2&user=ann%20lee&user=bob',
  });
  assert.equal(compileHashOn('header:X-Tenant')(req), 'acme', 'header names are case-insensitive');
  assert.equal(compileHashOn('cookie:sid')(req), 'abc123', 'quotes removed');
  assert.equal(compileHashOn('cookie:x')(req), '1');
  assert.equal(compileHashOn('ip')(req), '203.0.113.7');
  assert.equal(compileHashOn('consumer')(req), 'c-17');
  assert.equal(compileHashOn('path')(req), '/orders/42');
  assert.equal(compileHashOn('query:user')(req), 'ann lee', 'first value, percent-decoded');
  assert.equal(compileHashOn('query:page')(req), '2');
});

test('hashOn: an absent or empty source gives undefined', () => {
  const req = input({ headers: { 'x-empty': '', cookie: 'a=; b=2' }, clientIp: '', query: 'flag&q=' });
  assert.equal(compileHashOn('header:x-tenant')(req), undefined);
  assert.equal(compileHashOn('header:x-empty')(req), undefined);
  assert.equal(compileHashOn('cookie:a')(req), undefined);
  assert.equal(compileHashOn('cookie:sid')(req), undefined);
  assert.equal(compileHashOn('cookie:sid')(input()), undefined, 'no Cookie header');
  assert.equal(compileHashOn('consumer')(req), undefined, 'anonymous');
  assert.equal(compileHashOn('ip')(req), undefined);
  assert.equal(compileHashOn('query:q')(req), undefined);
  assert.equal(compileHashOn('query:flag')(req), undefined, 'a parameter without a value');
  assert.equal(compileHashOn('query:user')(input()), undefined, 'no query string');
});

test('hashOn: repeated headers, several Cookie lines, encoded names, bad escapes', () => {
  const req = input({
    headers: { 'x-ids': ['1', '2'], cookie: ['a=1', 'sid=s2'] },
    query: 'us%65r=ann&q=%E0%A4%A',
  });
  assert.equal(compileHashOn('header:x-ids')(req), '1, 2');
  assert.equal(compileHashOn('cookie:sid')(req), 's2');
  assert.equal(compileHashOn('query:user')(req), 'ann', 'an encoded name matches');
  assert.equal(compileHashOn('query:q')(req), '%E0%A4%A', 'malformed escapes hash as sent');
  assert.equal(compileHashOn('cookie:ab')(input({ headers: { cookie: 'xab=1; ab=2' } })), '2', 'whole names only');
});

test('hashOn: invalid spellings are refused with a clear message', () => {
  for (const ok of ['ip', 'consumer', 'path', 'header:x-user', 'cookie:session_id', 'query:user.id']) {
    assert.equal(validateHashOn(ok), undefined, ok);
  }
  const cases: [string, RegExp][] = [
    ['', /is not valid: expected header:<name>, cookie:<name>, ip, consumer, path or query:<name>/],
    ['host', /"host" is not valid/],
    ['Header:x', /"Header:x" is not valid/],
    ['header', /"header:" needs a header name/],
    ['header:', /"header:" needs a header name/],
    ['header:x user', /needs a header name/],
    ['cookie:a=b', /"cookie:" needs a cookie name/],
    ['query:', /"query:" needs a parameter name/],
    ['query:a&b', /needs a parameter name without spaces/],
    ['ip:1', /"ip" takes no name/],
  ];
  for (const [spec, re] of cases) {
    assert.match(validateHashOn(spec) ?? '', re, spec);
    assert.throws(() => compileHashOn(spec), re);
  }
});
