import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactSecrets, REDACTED } from './redact.js';

interface Redacted {
  admin: { token: string; port: number };
  consumers: { credentials: Record<string, string>[] }[];
  routes: { policies: { keys: [{ jwk: Record<string, string> }, { jwk: Record<string, string> }, { secret: string }] }[] }[];
}

test('secrets are redacted by key name anywhere, and private JWK members inside a jwk', () => {
  const out = redactSecrets({
    admin: { token: 't0ken', port: 9876 },
    consumers: [
      {
        id: 'a',
        credentials: [
          { type: 'api-key', key: 'k1' },
          { type: 'basic', username: 'u', password: 'p' },
        ],
      },
    ],
    routes: [
      {
        policies: [
          {
            type: 'jwt',
            keys: [
              { jwk: { kty: 'oct', k: 'c2VjcmV0', alg: 'HS256' } },
              { jwk: { kty: 'RSA', n: 'modulus', e: 'AQAB', d: 'priv', p: 'p1', q: 'q1', dp: 'x', dq: 'y', qi: 'z' } },
              { secret: 's' },
            ],
          },
        ],
      },
    ],
  }) as unknown as Redacted;
  assert.equal(out.admin.token, REDACTED);
  assert.equal(out.admin.port, 9876);
  assert.equal(out.consumers[0]!.credentials[0]!.key, REDACTED);
  assert.equal(out.consumers[0]!.credentials[1]!.password, REDACTED);
  assert.equal(out.consumers[0]!.credentials[1]!.username, 'u');
  const [oct, rsa, secret] = out.routes[0]!.policies[0]!.keys;
  assert.deepEqual(oct.jwk, { kty: 'oct', k: REDACTED, alg: 'HS256' });
  assert.deepEqual(rsa.jwk, {
    kty: 'RSA',
    n: 'modulus',
    e: 'AQAB',
    d: REDACTED,
    p: REDACTED,
    q: REDACTED,
    dp: REDACTED,
    dq: REDACTED,
    qi: REDACTED,
  });
  assert.equal(secret.secret, REDACTED);
});

test('the password of a URL (configStore.url, store.url) is redacted, the rest of it kept', () => {
  const out = redactSecrets({
    configStore: { url: 'postgres://gatehouse:s3cr%40t@db.internal:5432/gh' },
    store: { url: 'redis://:pw@10.0.0.5:6379/0' },
    services: { a: { targets: [{ url: 'http://127.0.0.1:3000/x@y' }] } },
  });
  assert.equal(out.configStore.url, 'postgres://gatehouse:[redacted]@db.internal:5432/gh');
  assert.equal(out.store.url, 'redis://:[redacted]@10.0.0.5:6379/0');
  assert.equal(out.services.a.targets[0]!.url, 'http://127.0.0.1:3000/x@y');
});
