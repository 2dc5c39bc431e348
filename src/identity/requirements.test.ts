import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRequirements } from './requirements.js';

test('per-method requirements add to the base ones; HEAD follows GET unless it has its own', () => {
  const check = compileRequirements({
    requireScopes: ['read'],
    methods: { GET: { requireScopes: ['list'] }, POST: { requireScopes: ['write'] } },
  })!;
  assert.equal(check('GET', {}, ['read']), 'missing scope "list"');
  assert.equal(check('HEAD', {}, ['read']), 'missing scope "list"');
  assert.equal(check('HEAD', {}, ['read', 'list']), undefined);
  assert.equal(check('POST', {}, ['read']), 'missing scope "write"');
  assert.equal(check('DELETE', {}, ['read']), undefined);
  const own = compileRequirements({ methods: { GET: { requireScopes: ['list'] }, HEAD: {} } })!;
  assert.equal(own('HEAD', {}, []), undefined);
});
