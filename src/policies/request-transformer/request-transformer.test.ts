// request-transformer on its own: header and query edits (in order; the raw query kept), JSON body
// edits in order, bodies that are not JSON, the JSONata reshape and its bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ctx, editBody, errors, make } from '../../../test/helpers/transformer-policy.js';

test('header edits: remove, rename, set, add, append in that order; values that cannot be sent are left out', () => {
  const policy = make({
    type: 'request-transformer',
    headers: {
      remove: ['X-Debug'],
      rename: { 'x-old': 'x-new' },
      set: { 'x-consumer': '{{consumer.id}}', 'x-claim': '{{claims.evil}}' },
      add: { 'x-tenant': 'default', 'x-fresh': 'yes' },
      append: { via: 'gatehouse' },
    },
  });
  const headers = ['X-Debug', '1', 'X-Old', 'a', 'x-old', 'b', 'X-Tenant', 'acme', 'x-consumer', 'spoofed', 'Via', '1.1 edge'];
  const c = ctx({ identity: { consumerId: 'c-1', groups: [], claims: { evil: 'a\r\nx-injected: 1' } } });
  policy.upstreamRequest!(c, headers);
  assert.deepEqual(headers, [
    'X-Tenant',
    'acme',
    'Via',
    '1.1 edge',
    'x-new',
    'a',
    'x-new',
    'b',
    'x-consumer',
    'c-1',
    'x-fresh',
    'yes',
    'via',
    'gatehouse',
  ]);
});

test('query edits: untouched parameters keep their encoding; edits encode what they write', () => {
  const policy = make({
    type: 'request-transformer',
    query: {
      remove: ['debug'],
      rename: { q: 'search' },
      set: { page: '{{query.p}}' },
      add: { limit: '20', q2: 'x' },
      append: { tag: 'a b' },
    },
  });
  const c = ctx({ query: 'q=caf%C3%A9+au+lait&debug=1&x=%2F%20&p=3&q2=keep' });
  policy.upstreamRequest!(c, []);
  assert.equal(c.query, 'search=caf%C3%A9+au+lait&x=%2F%20&p=3&q2=keep&page=3&limit=20&tag=a%20b');
});

test('body edits run in order: unwrap, remove, rename, keep, set, add, wrap', async () => {
  const policy = make({
    type: 'request-transformer',
    body: {
      unwrap: 'data',
      remove: ['password'],
      rename: { name: 'fullName' },
      keep: ['fullName', 'age', 'items'],
      set: { 'meta.by': '{{consumer.id}}', 'meta.n': '{{query.n | number}}' },
      add: { age: 0, 'items[*].qty': 1 },
      wrap: 'payload',
    },
  });
  const c = ctx({ query: 'n=5', identity: { consumerId: 'c-9', groups: [] } });
  const out = await editBody(
    policy,
    { data: { name: 'Ada', password: 'x', age: 36, extra: 1, items: [{ sku: 'A' }, { sku: 'B', qty: 3 }] } },
    c,
  );
  assert.equal(out.verdict, undefined);
  assert.deepEqual(JSON.parse(out.body), {
    payload: {
      fullName: 'Ada',
      age: 36,
      items: [
        { sku: 'A', qty: 1 },
        { sku: 'B', qty: 3 },
      ],
      meta: { by: 'c-9', n: 5 },
    },
  });
});

test('body: not JSON by Content-Type passes untouched (or is refused with requireJson); empty stays empty', async () => {
  const loose = make({ type: 'request-transformer', body: { set: { a: 1 } } });
  assert.deepEqual(await editBody(loose, 'a=1', ctx(), 'application/x-www-form-urlencoded'), { verdict: undefined, body: 'a=1' });
  assert.deepEqual(await editBody(loose, '', ctx()), { verdict: undefined, body: '' });
  const strict = make({ type: 'request-transformer', body: { set: { a: 1 }, requireJson: true } });
  const r = await editBody(strict, 'a=1', ctx(), 'text/plain');
  assert.equal(r.verdict?.code, 'GW_BAD_BODY');
  const encoded = await editBody(strict, '{}', ctx({ headers: { 'content-encoding': 'gzip' } }));
  assert.equal(encoded.verdict?.code, 'GW_BAD_BODY');
  assert.deepEqual((await editBody(loose, '{}', ctx(), 'application/vnd.api+json; charset=utf-8')).body, '{"a":1}');
});

test('body: invalid JSON is 400 GW_BAD_BODY with the position, line and column', async () => {
  const policy = make({ type: 'request-transformer', body: { set: { a: 1 } } });
  const r = await editBody(policy, '{\n  "a": 1,\n  "b": }');
  const v = r.verdict!;
  assert.equal(v.status, 400);
  assert.equal(v.code, 'GW_BAD_BODY');
  assert.deepEqual(v.details, { position: 19, line: 3, column: 8 });
  assert.match(v.message ?? '', /unexpected "}" at line 3, column 8/);
});

test('reshape: JSONata with bindings, compiled once; a bad expression is a config error; runaway ones are bounded', async () => {
  assert.match(
    errors({ type: 'request-transformer', body: { reshape: '$.a[' } })[0]!,
    /body.reshape: not a JSONata expression: .*\(at 4\)/,
  );
  const policy = make({
    type: 'request-transformer',
    body: { reshape: '{ "total": $sum(items.price), "by": $consumer.id, "id": $number($params.id) }', wrap: 'data' },
  });
  const c = ctx({ params: { id: '7' }, identity: { consumerId: 'c-1', groups: [] } });
  const out = await editBody(policy, { items: [{ price: 2 }, { price: 3.5 }] }, c);
  assert.deepEqual(JSON.parse(out.body), { data: { total: 5.5, by: 'c-1', id: 7 } });

  const loop = make({ type: 'request-transformer', body: { reshape: '($f := function($x){ $f($x) }; $f(1))', reshapeTimeout: '20ms' } });
  const r = await editBody(loop, {});
  assert.equal(r.verdict!.code, 'GW_BAD_BODY');
  assert.match(r.verdict!.message ?? '', /depth or size bound|ran out of time/);
  const big = make({ type: 'request-transformer', body: { reshape: '[1..1000000]' } });
  assert.match((await editBody(big, {})).verdict?.message ?? '', /depth or size bound|larger than/);
  const huge = make({ type: 'request-transformer', maxBody: 1000, body: { reshape: '$pad("", 5000, "x")' } });
  assert.match((await editBody(huge, {})).verdict?.message ?? '', /larger than 2000 bytes/);
});

test('a transformer without body edits reads no body; an empty one compiles to nothing', () => {
  const headersOnly = make({ type: 'request-transformer', headers: { set: { a: 'b' } } });
  assert.equal(typeof headersOnly.requestBody, 'undefined');
  assert.equal(headersOnly.bodyBufferBytes, undefined);
  const empty = make({ type: 'request-transformer' });
  assert.equal(typeof empty.upstreamRequest, 'undefined');
  const response = make({ type: 'response-transformer', headers: { set: { a: 'b' } } });
  assert.equal(typeof response.responseBody, 'undefined');
});

test('framing and connection headers cannot be edited: the gateway owns them', () => {
  assert.deepEqual(
    errors({
      type: 'request-transformer',
      headers: { set: { 'Content-Length': '5' }, rename: { 'x-a': 'transfer-encoding' }, remove: ['connection'] },
    }),
    [
      'routes[0].policies[0].headers.remove[0]: the gateway sets this header itself (framing and connection headers cannot be edited)',
      'routes[0].policies[0].headers.rename.x-a: the gateway sets this header itself (framing and connection headers cannot be edited)',
      'routes[0].policies[0].headers.set.Content-Length: the gateway sets this header itself (framing and connection headers cannot be edited)',
    ],
  );
});
