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

test('a verified token is remembered until its exp, never past it (injected clock)', async () => {
  const { jwtAuthenticator, jwtSchema } = await import('./jwt.js');
  const { ConsumerRegistry } = await import('../../identity/registry.js');
  const { createHmac } = await import('node:crypto');
  let clock = Date.UTC(2030, 0, 1);
  const secret = 'x'.repeat(32);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'HS256' })}.${b64({ sub: 'a', exp: clock / 1000 + 60 })}`;
  const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  const a = jwtAuthenticator(
    jwtSchema.parse({ type: 'jwt', algorithms: ['HS256'], keys: [{ secret }], clockSkew: '0s', verifiedCacheTtl: '5m' }),
    new ConsumerRegistry([{ id: 'a', groups: [], credentials: [] }]),
    { now: () => clock },
  );
  const ctx = { req: { rawHeaders: ['authorization', `Bearer ${token}`] }, method: 'GET' } as never;
  const first = a.authenticate(ctx);
  assert.ok(first instanceof Promise);
  assert.equal((await first).ok, true);
  clock += 59_000;
  const second = a.authenticate(ctx);
  assert.ok(!(second instanceof Promise), 'served from the cache');
  assert.equal((second as { ok: boolean }).ok, true);
  clock += 2_000;
  assert.equal((await a.authenticate(ctx)).ok, false);
});
