// The cache against a hostile client, policy by policy: each test here failed before its fix
// (the gateway-level ones are in test/cache-security.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { normalise, requestValue, selectVariant } from './vary.js';
import { sortedQuery } from './key.js';
import type { CacheEntry } from '../../store/cache/types.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

test('Vary: a request value of 30 000 spaces is normalised in linear time (the regex was quadratic)', () => {
  const hostile = `gzip${' '.repeat(30_000)}x`;
  const e: CacheEntry = {
    response: { status: 200, headers: [], body: Buffer.alloc(0) },
    requestTime: 0,
    responseTime: 0,
    vary: ['accept-encoding'],
    varyValues: ['gzip'],
    tags: [],
  };
  const t0 = performance.now();
  for (let i = 0; i < 16; i++) selectVariant([e], req({ 'accept-encoding': hostile }));
  const ms = performance.now() - t0;
  assert.ok(ms < 200, `16 lookups took ${ms.toFixed(0)} ms`);
  // The same values as before: what a Redis store holds from an older version still matches.
  assert.equal(normalise(' gzip ,br'), 'gzip, br');
  assert.equal(normalise('a, ,b'), 'a, , b');
  assert.equal(normalise('  a  b  '), 'a  b');
  assert.equal(normalise('a\t,\tb'), 'a, b');
});

test('key: the query sorted by name only; a name repeated keeps its order; a query with `;` is kept whole', () => {
  // A service that reads the first id answers these two differently: one key would poison the other.
  assert.notEqual(sortedQuery('id=2&id=1', []), sortedQuery('id=1&id=2', []));
  assert.notEqual(sortedQuery('%69d=1&id=2', []), sortedQuery('id=2&%69d=1', []), '%69d is id to the service');
  assert.notEqual(sortedQuery('a+b=1&a%20b=2', []), sortedQuery('a%20b=2&a+b=1', []));
  assert.equal(sortedQuery('b=2&a=1', []), sortedQuery('a=1&b=2', []), 'different names still sort');
  // `;` as a separator: id=2 hidden in x's value neither moves nor is dropped by `only`.
  assert.notEqual(sortedQuery('id=1&x=1;id=2', []), sortedQuery('x=1;id=2&id=1', []));
  assert.notEqual(sortedQuery('x=1;id=2', ['id']), sortedQuery('', ['id']));
});

test('Vary on Cookie or Authorization: the store keeps a digest of the value, never the credential', () => {
  const alice = req({ cookie: 'sid=s3cret-session', authorization: 'Bearer t0ken', 'accept-language': 'en' });
  const names = ['cookie', 'authorization', 'accept-language'];
  const e: CacheEntry = {
    response: { status: 200, headers: [], body: Buffer.alloc(0) },
    requestTime: 0,
    responseTime: 0,
    vary: names,
    varyValues: names.map((n) => requestValue(alice, n)),
    tags: [],
  };
  const stored = JSON.stringify(e.varyValues);
  assert.doesNotMatch(stored, /s3cret|t0ken/);
  assert.match(stored, /"en"/, 'other fields stay readable');
  assert.equal(selectVariant([e], alice), e, 'the same credentials select it');
  assert.equal(selectVariant([e], req({ cookie: 'sid=other', authorization: 'Bearer t0ken', 'accept-language': 'en' })), undefined);
});
