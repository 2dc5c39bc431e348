// response-transformer on its own: `when` by status and media type, ETag and digests dropped on an
// edited body, 206 never edited, a service body that is not JSON refused with its position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ctx, make } from '../../../test/helpers/transformer-policy.js';
import type { ResponseRewrite } from '../types.js';

test('response: `when` selects by status and media type; body edits drop ETag and digests; 206 is never edited', async () => {
  const policy = make({
    type: 'response-transformer',
    when: { status: ['2xx', 404], contentType: ['application/json', 'application/*+json'] },
    headers: { set: { 'x-t': 'yes' } },
    body: { remove: ['internal'] },
  });
  const res = (status: number, type: string) => ({ status, headers: ['Content-Type', type, 'ETag', '"v1"', 'Digest', 'sha-256=x'] });
  const ok = res(200, 'application/json; charset=utf-8');
  policy.response!(ctx(), ok);
  assert.deepEqual(ok.headers, ['Content-Type', 'application/json; charset=utf-8', 'x-t', 'yes']);
  const rw = policy.responseBody!(ctx(), ok) as ResponseRewrite;
  assert.equal(rw.tooLarge, 'error');
  assert.equal((await rw.rewrite(Buffer.from('{"a":1,"internal":2}'), ok)).toString(), '{"a":1}');
  for (const [status, type] of [
    [500, 'application/json'],
    [200, 'text/html'],
  ] as const) {
    const r = res(status, type);
    policy.response!(ctx(), r);
    assert.equal(r.headers.length, 6, `${status} ${type} untouched`);
    assert.equal(policy.responseBody!(ctx(), r), undefined);
  }
  const problem = res(404, 'application/problem+json');
  assert.notEqual(policy.responseBody!(ctx(), problem), undefined);
  assert.equal(policy.responseBody!(ctx(), res(206, 'application/json')), undefined);
});

test('response: a body that is not JSON is refused 502 GW_UPSTREAM_BODY_INVALID with the position', async () => {
  const policy = make({ type: 'response-transformer', body: { set: { a: 1 } }, onTooLarge: 'pass' });
  const info = { status: 200, headers: ['content-type', 'application/json'] };
  const rw = policy.responseBody!(ctx(), info) as ResponseRewrite;
  assert.equal(rw.tooLarge, 'pass');
  await assert.rejects(rw.rewrite(Buffer.from('{"a":'), info) as Promise<Buffer>, (err: { code: string; details: unknown }) => {
    assert.equal(err.code, 'GW_UPSTREAM_BODY_INVALID');
    assert.deepEqual(err.details, { position: 5, line: 1, column: 6 });
    return true;
  });
});
