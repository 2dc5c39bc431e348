import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRewrite, compileStripPrefix } from './rewrite.js';

test('stripPrefix only strips at a segment boundary', () => {
  const s = compileStripPrefix('/api/v1');
  assert.equal(s('/api/v1/users', {}, ''), '/users');
  assert.equal(s('/api/v1', {}, ''), '/');
  assert.equal(s('/api/v10/users', {}, ''), '/api/v10/users');
  assert.equal(compileStripPrefix('/api/')('/api/x', {}, ''), '/x');
});

test('rewrite substitutes params and the wildcard rest', () => {
  assert.equal(compileRewrite('/users/:id')('/x', { id: '42' }, ''), '/users/42');
  assert.equal(compileRewrite('/u/:id/o/:oid')('/x', { id: '1', oid: '2' }, ''), '/u/1/o/2');
  assert.equal(compileRewrite('/v2/*')('/x', {}, 'a/b'), '/v2/a/b');
  assert.equal(compileRewrite('/v2/*')('/x', {}, ''), '/v2');
  assert.equal(compileRewrite('/')('/x', {}, ''), '/');
});
