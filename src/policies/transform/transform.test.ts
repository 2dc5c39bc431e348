// The transformers' shared parts on their own: paths (nested, indexes, [*], quoted), templates
// (typed output, filters, missing values, config errors) and JSON error positions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRename, getAll, keepOnly, parsePath, remove, write, type Path } from './paths.js';
import { compileValue, type Value } from './template.js';
import { errorOffset, parseJson } from './json-text.js';
import { ctx, errors } from '../../../test/helpers/transformer-policy.js';

const p = (t: string) => parsePath(t) as Path;

test('paths: names, indexes, [*], quoted keys and an optional $. prefix; malformed ones say where', () => {
  assert.deepEqual(parsePath('a.b[0].c'), [{ key: 'a' }, { key: 'b' }, { index: 0 }, { key: 'c' }]);
  assert.deepEqual(parsePath("$.items[*]['odd key']"), [{ key: 'items' }, { each: true }, { key: 'odd key' }]);
  assert.match(parsePath('a..b') as string, /at 2/);
  assert.match(parsePath('a[x]') as string, /at 1/);
  assert.match(parsePath('__proto__.x') as string, /not field names/);
  assert.match(parsePath('') as string, /names a field/);
});

test('paths: write creates objects on the way, never arrays; remove; [*] reaches every element', () => {
  const doc: Record<string, unknown> = { items: [{ a: 1 }, { a: 2 }], keep: true };
  write(doc, p('meta.by.id'), () => 'c-1', false);
  write(doc, p('items[*].b'), () => 0, false);
  write(doc, p('items[5].x'), () => 1, false); // past the end: nothing
  write(doc, p('list[0]'), () => 1, false); // no array to write into
  write(doc, p('keep'), () => false, true); // add: present, left
  remove(doc, p('items[*].a'));
  assert.deepEqual(doc, { items: [{ b: 0 }, { b: 0 }], keep: true, meta: { by: { id: 'c-1' } } });
  assert.deepEqual(getAll(doc, p('items[*].b')), [0, 0]);
  remove(doc, p('items[0]'));
  assert.equal((doc.items as unknown[]).length, 1);
});

test('paths: rename moves a value, pairs array elements under a shared [*], and refuses the rest at config time', () => {
  const doc = { user: { name: 'Ada' }, items: [{ qty: 1 }, { qty: 2 }, {}] };
  compileRename(p('user.name'), p('profile.fullName'))(doc);
  compileRename(p('items[*].qty'), p('items[*].quantity'))(doc);
  compileRename(p('missing'), p('other'))(doc);
  assert.deepEqual(doc, { user: {}, items: [{ quantity: 1 }, { quantity: 2 }, {}], profile: { fullName: 'Ada' } });
  assert.deepEqual(errors({ type: 'request-transformer', body: { rename: { 'items[*].a': 'other[*].a' } } }), [
    'routes[0].policies[0].body.rename.items[*].a: a rename pairs array elements only under a shared prefix ending in [*] (items[*].a → items[*].b)',
  ]);
});

test('paths: keep copies only the listed paths, through arrays', () => {
  const doc = {
    id: 1,
    secret: 's',
    user: { name: 'Ada', password: 'p' },
    items: [
      { sku: 'A', cost: 3 },
      { sku: 'B', cost: 4 },
    ],
  };
  assert.deepEqual(keepOnly(doc, [p('id'), p('user.name'), p('items[*].sku')]), {
    id: 1,
    user: { name: 'Ada' },
    items: [{ sku: 'A' }, { sku: 'B' }],
  });
  assert.deepEqual(keepOnly(doc, [p('items[1]')]), { items: [{ sku: 'B', cost: 4 }] });
});

test('templates: one template keeps its type, filters convert, mixed text is a string, missing is undefined', () => {
  const c = ctx({
    params: { id: '42' },
    query: 'limit=10&flag=true&name=a%20b',
    requestId: 'rid',
    identity: { consumerId: 'c-1', username: 'ada', groups: ['admin', 'ops'], claims: { n: 7, org: { id: 'o-1' } } },
    headers: { 'x-tenant': 'acme' },
  });
  const run = (v: unknown) => (compileValue(v) as Value)(c);
  assert.deepEqual(run('{{consumer.groups}}'), ['admin', 'ops']);
  assert.equal(run('{{claims.n}}'), 7);
  assert.equal(run('{{claims.org.id}}'), 'o-1');
  assert.equal(run('{{query.limit | number}}'), 10);
  assert.equal(run('{{query.flag | boolean}}'), true);
  assert.equal(run('{{params.id | number}}'), 42);
  assert.equal(run('{{claims.n | string}}'), '7');
  assert.equal(run('{{query.name}}'), 'a b');
  assert.equal(run('tenant {{headers.X-Tenant}} / {{consumer.groups}} / {{query.nope}}'), 'tenant acme / admin,ops / ');
  assert.equal(run('{{query.nope}}'), undefined);
  assert.equal(run('{{query.name | number}}'), undefined);
  assert.deepEqual(run({ by: '{{consumer.id}}', n: 1, gone: '{{claims.none}}' }), { by: 'c-1', n: 1 });
  assert.equal(run('{{requestId}}'), 'rid');
  assert.equal(typeof run('{{nowMs}}'), 'number');
  assert.match(run('{{now}}') as string, /^\d{4}-\d\d-\d\dT/);
  assert.equal(run(12), 12);
});

test('templates: unknown values, filters and unclosed braces are config errors with their paths', () => {
  assert.deepEqual(
    errors({
      type: 'request-transformer',
      headers: { set: { 'x-a': '{{consumer.secret}}', 'x-b': '{{query.a | upper}}' } },
      body: { set: { a: '{{process.env}}', b: 'x {{params.id' } },
    }),
    [
      'routes[0].policies[0].headers.set.x-a: {{consumer.secret}}: the consumer has id, username, groups and plan',
      'routes[0].policies[0].headers.set.x-b: unknown filter "| upper" (use number, boolean, string, json)',
      'routes[0].policies[0].body.set.a: {{process.env}}: unknown template value',
      'routes[0].policies[0].body.set.b: "x {{params.id": an unclosed or malformed {{ template }}',
    ],
  );
});

test('JSON error offsets: the first offending character, or the end for a body cut short', () => {
  const cases: [string, number][] = [
    ['', 0],
    ['{"a":1,}', 7],
    ['[1,2', 4],
    ['{"a" 1}', 5],
    ['"abc', 4],
    ['"a\\x"', 3],
    ['"a\u0001"', 2],
    ['01', 1],
    ['{} x', 3],
    ['tru', 0],
    ['{"a":[1,{"b":nul}]}', 13],
    ['['.repeat(100000), 100000],
  ];
  for (const [text, at] of cases) {
    assert.throws(() => JSON.parse(text));
    assert.equal(errorOffset(text), at, text.slice(0, 30));
  }
  assert.deepEqual(parseJson('{"a":[1,2]}'), { ok: true, value: { a: [1, 2] } });
});
