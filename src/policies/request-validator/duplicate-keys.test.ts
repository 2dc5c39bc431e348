// The first repeated name in a JSON object, as a JSON pointer: nested in objects and arrays,
// names compared decoded, quotes and backslashes inside strings not mistaken for structure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstDuplicateKey } from './duplicate-keys.js';

test('a repeated name is found where it is, at any depth', () => {
  assert.equal(firstDuplicateKey('{"role":"user","role":"admin"}'), '/role');
  assert.equal(firstDuplicateKey('{"a":{"b":[1,{"c":1,"d":"x","c":2}]}}'), '/a/b/1/c');
  assert.equal(firstDuplicateKey('{"a/b~":1,"a/b~":1}'), '/a~1b~0');
  assert.equal(firstDuplicateKey('{"\\u0061":1,"a":2}'), '/a', 'an escaped name is the same name');
  const deep = '{"x":'.repeat(100_000) + '{"k":1,"k":2}' + '}'.repeat(100_000);
  assert.equal(firstDuplicateKey(deep), '/x'.repeat(100_000) + '/k');
});

test('the same name in different objects, and names inside strings, are not duplicates', () => {
  assert.equal(firstDuplicateKey('[{"a":1},{"a":1}]'), undefined);
  assert.equal(firstDuplicateKey('{"a":{"a":{"a":1}}}'), undefined);
  assert.equal(firstDuplicateKey('{"x":"\\"a\\":1,","a":1}'), undefined);
  assert.equal(firstDuplicateKey('{"a":"\\\\","b":"\\\\\\"","c":[]}'), undefined);
  assert.equal(firstDuplicateKey('{"a":1,"b":{"c":2},"d":3}'), undefined);
  assert.equal(firstDuplicateKey('"a"'), undefined);
  assert.equal(firstDuplicateKey(' [ ] '), undefined);
});
