// The local share of a limit (onStoreError: local while the store is down).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileLimit, localShare } from './limits.js';

test('a local share is the limit divided by the instances', () => {
  const fixed = compileLimit({ limit: 10, window: '1m' }, 'fixed-window', 'r');
  assert.equal(localShare(fixed, 4).a, 2);
  assert.equal(localShare(fixed, 1), fixed);
  assert.equal(localShare(compileLimit({ limit: 3, window: '1m' }, 'sliding-window', 'r'), 10).a, 1);
});

test('a local share never drops below the dearest request (it would be refused for the whole outage)', () => {
  // cost 5 fits the limit of 10 (the config allows it), but not a share of 10 / 4 = 2.
  const fixed = compileLimit({ limit: 10, window: '1m' }, 'fixed-window', 'r');
  assert.equal(localShare(fixed, 4, 5).a, 5);
  const bucket = compileLimit({ rate: 8, per: '1s', burst: 8 }, 'token-bucket', 'r');
  const share = localShare(bucket, 4, 3);
  assert.equal(share.c, 3);
  assert.equal(share.a, 2); // the refill rate is divided exactly
});
