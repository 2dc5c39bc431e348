// The cache's pure parts: Cache-Control parsing, freshness and age (RFC 9111 §4.2), what may be
// stored (§3), how a stored response may be used (§4.2.4, §5.2.1), the key, conditional requests,
// 304 merging and coalescing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { parseDirectives, seconds } from './cache-control.js';
import { currentAge, freshnessLifetime, judge, notStorable, type FreshnessRules } from './freshness.js';
import { usage } from './lookup.js';
import { sortedQuery, uriKey } from './key.js';
import { mergeNotModified, notModified } from './conditional.js';
import { Coalescer } from './coalesce.js';
import { normalise, selectVariant } from './vary.js';
import { httpDate } from './http-date.js';
import { responseDirectives } from './targeted.js';
import type { CacheEntry } from '../../store/cache/types.js';

const RULES: FreshnessRules = { defaultTtlMs: undefined, heuristic: undefined, heuristicMaxMs: 86_400_000, targets: ['cdn-cache-control'] };
const NOW = Date.parse('Sat, 05 Dec 2026 12:00:00 GMT');

function entry(headers: string[], at = NOW, status = 200): CacheEntry {
  return { response: { status, headers, body: Buffer.alloc(0) }, requestTime: at, responseTime: at, vary: [], varyValues: [], tags: [] };
}

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

test('Cache-Control: names lower-cased, quoted values unquoted, a conflicting repeat marks the directive invalid', () => {
  const d = parseDirectives('Max-Age=60, no-cache="set-cookie, x", s-maxage = 5 ,private');
  assert.equal(d.map.get('max-age'), '60');
  assert.equal(d.map.get('no-cache'), 'set-cookie, x');
  assert.equal(d.map.get('s-maxage'), '5');
  assert.equal(d.map.get('private'), '');
  assert.equal(seconds(parseDirectives('max-age=10, max-age=20'), 'max-age'), -1);
  assert.equal(seconds(parseDirectives('max-age=abc'), 'max-age'), -1);
  assert.equal(seconds(parseDirectives('max-age=99999999999999'), 'max-age'), 2 ** 31);
  assert.equal(seconds(parseDirectives(''), 'max-age'), undefined);
});

test('freshness lifetime: s-maxage, then max-age, then Expires - Date, then the ttl, then the heuristic', () => {
  const life = (h: string[], rules = RULES) => freshnessLifetime(200, h, parseDirectives(h[1] ?? ''), rules, NOW);
  assert.equal(life(['cache-control', 'max-age=60, s-maxage=5']), 5000);
  assert.equal(life(['cache-control', 'max-age=60']), 60000);
  const date = new Date(NOW).toUTCString();
  assert.equal(life(['x', '', 'date', date, 'expires', new Date(NOW + 30_000).toUTCString()]), 30000);
  assert.equal(life(['x', '', 'expires', 'not a date']), 0, 'an invalid Expires is in the past');
  assert.equal(life(['x', ''], { ...RULES, defaultTtlMs: 7000 }), 7000);
  const lm = new Date(NOW - 100_000).toUTCString();
  assert.equal(life(['x', '', 'date', date, 'last-modified', lm], { ...RULES, heuristic: 0.1 }), 10000);
  assert.equal(life(['x', '', 'date', date, 'last-modified', lm]), 0, 'no heuristic unless configured');
});

test('age: the larger of apparent age and Age plus the response delay, plus the time resident', () => {
  const e = entry(['date', new Date(NOW - 10_000).toUTCString(), 'age', '3'], NOW);
  e.requestTime = NOW - 1000;
  assert.equal(currentAge(e, NOW + 5000), 10_000 + 5000);
  const f = entry(['date', new Date(NOW).toUTCString(), 'age', '30'], NOW);
  f.requestTime = NOW - 2000;
  assert.equal(currentAge(f, NOW), 32_000);
});

test('what a shared cache may store', () => {
  const statuses = new Set([200, 404]);
  const check = (h: string[], opts: Partial<{ authorized: boolean; requestNoStore: boolean }> = {}, status = 200) =>
    notStorable(status, h, parseDirectives(h[1] ?? ''), { statuses, authorized: false, requestNoStore: false, rules: RULES, ...opts });
  assert.equal(check(['cache-control', 'max-age=60']), undefined);
  assert.equal(check(['cache-control', 'max-age=60'], {}, 500), 'status');
  assert.equal(check(['cache-control', 'no-store, max-age=60']), 'no-store');
  assert.equal(check(['cache-control', 'private']), 'private');
  assert.equal(check(['cache-control', 'max-age=60'], { authorized: true }), 'authorization');
  assert.equal(check(['cache-control', 'max-age=60, public'], { authorized: true }), undefined);
  assert.equal(check(['cache-control', 'must-revalidate, max-age=60'], { authorized: true }), undefined);
  assert.equal(check(['cache-control', 'max-age=60', 'vary', 'accept, *']), 'vary *');
  assert.equal(check(['cache-control', 'max-age=60', 'set-cookie', 'a=b']), 'set-cookie');
  assert.equal(check(['x', '']), 'no freshness');
  assert.equal(check(['x', '', 'etag', '"a"']), undefined, 'a validator is enough: it is revalidated');
  assert.equal(check(['cache-control', 'max-age=60'], { requestNoStore: true }), 'request no-store');
});

test('usage: fresh is served; no-cache, request max-age and min-fresh revalidate; max-stale serves stale unless must-revalidate', () => {
  const fresh = judge(entry(['cache-control', 'max-age=60']), RULES, NOW + 10_000, 0);
  const d = parseDirectives;
  assert.equal(usage(fresh, d('')), 'serve');
  assert.equal(usage(fresh, d('no-cache')), 'revalidate');
  assert.equal(usage(fresh, d('max-age=5')), 'revalidate');
  assert.equal(usage(fresh, d('max-age=20')), 'serve');
  assert.equal(usage(fresh, d('min-fresh=55')), 'revalidate');
  assert.equal(usage(judge(entry(['cache-control', 'max-age=60, no-cache']), RULES, NOW, 0), d('')), 'revalidate');
  const stale = judge(entry(['cache-control', 'max-age=10']), RULES, NOW + 20_000, 0);
  assert.equal(usage(stale, d('')), 'revalidate');
  assert.equal(usage(stale, d('max-stale')), 'serve');
  assert.equal(usage(stale, d('max-stale=15')), 'serve');
  assert.equal(usage(stale, d('max-stale=5')), 'revalidate');
  const strict = judge(entry(['cache-control', 'max-age=10, must-revalidate']), RULES, NOW + 20_000, 0);
  assert.equal(usage(strict, d('max-stale')), 'revalidate');
  const swr = judge(entry(['cache-control', 'max-age=10, stale-while-revalidate=30']), RULES, NOW + 20_000, 0);
  assert.equal(usage(swr, d('')), 'serve-stale-refresh');
  assert.equal(judge(entry(['cache-control', 'max-age=10, stale-if-error=30']), RULES, NOW, 0).ifError, 30_000);
  assert.equal(judge(entry(['cache-control', 's-maxage=10, stale-if-error=30']), RULES, NOW, 0).ifError, 0, 's-maxage forbids stale use');
  assert.equal(
    judge(entry(['cache-control', 'max-age=10, no-cache, stale-if-error=30']), RULES, NOW, 0).ifError,
    0,
    'no-cache: validated or nothing',
  );
  assert.equal(
    judge(entry(['cache-control', 'max-age=10'], NOW, 502), RULES, NOW, 60_000).ifError,
    0,
    'a stored 502 never stands in for an error',
  );
});

test('key: the query sorted (encoded bytes kept), only named parameters when some are named; the URI part ends before #', () => {
  assert.equal(sortedQuery('b=2&a=1&a=0', []), 'a=1&a=0&b=2', 'one name keeps its order');
  assert.equal(sortedQuery('b=2&page=3&utm=x', ['page']), 'page=3');
  assert.equal(sortedQuery('', []), '');
  assert.equal(uriKey('api.example', '/users', 'b=1&a=2', []), 'GET api.example/users?a=2&b=1#');
  assert.ok(!uriKey('h', '/users/1', '', []).startsWith(uriKey('h', '/users', '', [])), 'a prefix of /users does not reach /users/1');
});

test('conditional: If-None-Match by weak comparison (and *), else If-Modified-Since', () => {
  const h = ['etag', 'W/"v1"', 'last-modified', 'Tue, 01 Dec 2026 10:00:00 GMT'];
  assert.ok(notModified(req({ 'if-none-match': '"x", "v1"' }), h));
  assert.ok(notModified(req({ 'if-none-match': '*' }), h));
  assert.ok(!notModified(req({ 'if-none-match': '"v2"', 'if-modified-since': 'Wed, 02 Dec 2026 10:00:00 GMT' }), h), 'INM decides alone');
  assert.ok(notModified(req({ 'if-modified-since': 'Tue, 01 Dec 2026 10:00:00 GMT' }), h));
  assert.ok(!notModified(req({ 'if-modified-since': 'garbage' }), h));
});

test('a 304 updates the stored fields it carries, never the body framing', () => {
  const merged = mergeNotModified(
    ['content-length', '10', 'etag', '"a"', 'x-old', '1'],
    ['etag', '"a"', 'content-length', '0', 'cache-control', 'max-age=9'],
  );
  assert.deepEqual(merged, ['content-length', '10', 'x-old', '1', 'etag', '"a"', 'cache-control', 'max-age=9']);
});

test('Vary: values compared after normalising the spaces around commas; absent is a value of its own', () => {
  assert.equal(normalise(' gzip ,br'), 'gzip, br');
  const en = { ...entry([]), vary: ['accept-language'], varyValues: ['en'] };
  const none = { ...entry([], NOW + 1), vary: ['accept-language'], varyValues: [null] };
  assert.equal(selectVariant([en, none], req({ 'accept-language': 'en' })), en);
  assert.equal(selectVariant([en, none], req({})), none);
  assert.equal(selectVariant([en], req({ 'accept-language': 'fr' })), undefined);
});

test('coalescing: the first leads, the others wait for it (or for the timeout), never forever', async () => {
  const c = new Coalescer(50);
  const first = c.lead('k');
  const second = c.lead('k');
  assert.ok(first.first && !second.first);
  let woke = false;
  void second.waited.then(() => (woke = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(woke, false);
  first.done();
  await second.waited;
  assert.equal(c.size, 0);
  const lonely = c.lead('j');
  const waiting = c.lead('j');
  const t0 = Date.now();
  const alive = setTimeout(() => undefined, 1000); // the wait's own timer does not hold the process
  await waiting.waited; // the leader never finishes: the timeout lets it go
  clearTimeout(alive);
  assert.ok(Date.now() - t0 >= 40);
  lonely.done();
});

test('HTTP dates: the three forms of RFC 9110 §5.6.7, nothing looser', () => {
  const t = Date.UTC(1994, 10, 6, 8, 49, 37);
  assert.equal(httpDate('Sun, 06 Nov 1994 08:49:37 GMT'), t);
  assert.equal(httpDate('Sunday, 06-Nov-94 08:49:37 GMT'), t);
  assert.equal(httpDate('Sun Nov  6 08:49:37 1994'), t);
  for (const bad of [
    'Sun, 06 Nov 1994 08:49:37 UTC',
    'Sun 06 Nov 1994 08:49:37 GMT',
    'Sun, 06  Nov 1994 08:49:37 GMT',
    'Sun, 06-Nov-1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 8:49:37 GMT',
    'Sun, 31 Feb 1994 08:49:37 GMT',
    '1994-11-06T08:49:37Z',
    'tomorrow',
  ])
    assert.equal(httpDate(bad), undefined, bad);
});

test('Age: the first value of the first line; one that is not a whole number is ignored', () => {
  const age = (...values: string[]) => currentAge(entry(values.flatMap((v) => ['age', v])), NOW) / 1000;
  assert.equal(age('7200, 0'), 7200);
  assert.equal(age('0, 7200'), 0);
  assert.equal(age('7200', '0'), 7200);
  for (const v of ['abc', '-7200', '7200.0']) assert.equal(age(v), 0, v);
  assert.equal(age('99999999999'), 2 ** 31);
});

test('targeted cache control (RFC 9213): a valid CDN-Cache-Control replaces Cache-Control; an invalid one is ignored', () => {
  const dirs = (h: string[]) => responseDirectives(h, ['cdn-cache-control']);
  assert.equal(seconds(dirs(['cache-control', 'max-age=9999', 'CDN-Cache-Control', 'max-age=60']), 'max-age'), 60);
  assert.ok(dirs(['cache-control', 'no-store', 'cdn-cache-control', 'max-age=60, foobar']).map.has('foobar'));
  assert.ok(!dirs(['cache-control', 'no-store', 'cdn-cache-control', 'max-age=60']).map.has('no-store'));
  for (const invalid of ['max-age="60"', 'max-age=60, &&&', 'MaX-aGe=60', 'max-age =60', 'max-age= 60', 'max-age=60,'])
    assert.ok(dirs(['cache-control', 'no-store', 'cdn-cache-control', invalid]).map.has('no-store'), invalid);
  assert.equal(
    seconds(dirs(['cdn-cache-control', 'a=1;p=2, b="x", c=?0, d=:aGk=:, e=(1 2);q, max-age=5']), 'max-age'),
    5,
    'any valid member around it',
  );
});
