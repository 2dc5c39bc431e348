import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestSizeLimitPolicy } from './request-size-limit.js';
import { testContext, testEnv } from '../../../test/helpers/policy-context.js';

function make(maxBody: number | string) {
  return requestSizeLimitPolicy.create(requestSizeLimitPolicy.schema.parse({ type: 'request-size-limit', maxBody }), testEnv());
}

test('Content-Length over the limit → 413 GW_PAYLOAD_TOO_LARGE with connection: close', () => {
  const p = make('1kb');
  assert.equal(p.maxBodyBytes, 1024);
  assert.deepEqual(p.access!(testContext({ method: 'POST', headers: { 'Content-Length': '1025' } })), {
    status: 413,
    code: 'GW_PAYLOAD_TOO_LARGE',
    headers: { connection: 'close' },
  });
});

test('at or under the limit, or without Content-Length (chunked: counted while streaming), it continues', () => {
  const p = make(1024);
  assert.equal(p.access!(testContext({ method: 'POST', headers: { 'content-length': '1024' } })), undefined);
  assert.equal(p.access!(testContext({ method: 'POST', headers: { 'Transfer-Encoding': 'chunked' } })), undefined);
  assert.equal(p.access!(testContext()), undefined);
});

test('schema: a size is required and must be well-formed', () => {
  assert.equal(requestSizeLimitPolicy.schema.safeParse({ type: 'request-size-limit' }).success, false);
  assert.equal(requestSizeLimitPolicy.schema.safeParse({ type: 'request-size-limit', maxBody: '10 parsecs' }).success, false);
  assert.equal(make('2mb').maxBodyBytes, 2 * 1024 * 1024);
});
