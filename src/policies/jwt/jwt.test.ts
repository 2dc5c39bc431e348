import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalBase64url, tokenShapeProblem } from './jwt.js';

test('canonical base64url: one spelling per byte string', () => {
  const enc = Buffer.from([0xff]).toString('base64url'); // "_w"
  assert.equal(canonicalBase64url(enc), true);
  assert.equal(canonicalBase64url('_x'), false); // same byte, spare bits set
  assert.equal(canonicalBase64url('A'), false); // impossible length
  assert.equal(canonicalBase64url(Buffer.from('ab').toString('base64url')), true);
});

test('token shape: size, parts, alphabet', () => {
  assert.equal(tokenShapeProblem('AA.AA.AA', 100), undefined);
  assert.match(tokenShapeProblem('AA.AA.AA', 4)!, /longer/);
  assert.match(tokenShapeProblem('a.b', 100)!, /compact/);
  assert.match(tokenShapeProblem('a.b.c=', 100)!, /compact/);
  assert.match(tokenShapeProblem('a+.b.c', 100)!, /compact/);
  assert.match(tokenShapeProblem('a.b.', 100)!, /compact/);
});
