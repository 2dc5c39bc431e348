// The SNI table on its own: exact names, wildcards covering exactly one label, case and a trailing
// dot ignored, the first certificate keeping a name two of them claim.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SniTable } from './names.js';

test('exact names win over wildcards; a wildcard covers one label, never the bare domain or two labels', () => {
  const t = new SniTable([
    { names: ['*.example.com', 'example.com'], value: 'wild' },
    { names: ['api.example.com'], value: 'api' },
    { names: ['*.eu.example.com'], value: 'eu' },
  ]);
  assert.equal(t.find('api.example.com'), 'api');
  assert.equal(t.find('www.example.com'), 'wild');
  assert.equal(t.find('example.com'), 'wild');
  assert.equal(t.find('a.eu.example.com'), 'eu');
  assert.equal(t.find('eu.example.com'), 'wild');
  assert.equal(t.find('a.b.example.com'), undefined);
  assert.equal(t.find('com'), undefined);
  assert.equal(t.find('.example.com'), undefined);
  assert.equal(t.find('WWW.Example.COM.'), 'wild');
  assert.equal(t.find('API.EXAMPLE.COM'), 'api');
});

test('a name claimed twice is kept by the first certificate and reported; odd wildcards are ignored', () => {
  const t = new SniTable([
    { names: ['a.example', '*.w.example', 'a.example'], value: 0 },
    { names: ['A.Example', '*.W.example', 'b.example'], value: 1 },
    { names: ['f*.example', '*.', '*'], value: 2 },
  ]);
  assert.equal(t.find('a.example'), 0);
  assert.equal(t.find('x.w.example'), 0);
  assert.equal(t.find('b.example'), 1);
  assert.deepEqual(t.conflicts, [
    { name: 'a.example', kept: 0, shadowed: 1 },
    { name: '*.w.example', kept: 0, shadowed: 1 },
  ]);
  assert.deepEqual(t.ignored, ['f*.example', '*.', '*']);
  assert.equal(t.find('fa.example'), undefined);
});
