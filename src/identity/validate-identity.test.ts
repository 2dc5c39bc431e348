// Validation of consumers, credentials and identity policies: every refusal with its path, and no
// error message that echoes a secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../validation/validate.js';
import { hashPassword } from './secrets.js';

const base = (extra: Record<string, unknown>) => ({ services: { up: { targets: [{ url: 'http://127.0.0.1:1' }] } }, ...extra });
const errors = (doc: Record<string, unknown>) => {
  const r = validateConfig(base(doc));
  return r.ok ? [] : r.errors;
};

test('a valid identity config passes, with defaults', () => {
  const r = validateConfig(
    base({
      consumers: [
        {
          id: 'a',
          credentials: [
            { type: 'api-key', key: 'k-0123456789' },
            { type: 'basic', username: 'a', password: hashPassword('pw', 1024) },
            { type: 'mtls', san: 'spiffe://a' },
          ],
        },
        { id: 'guest' },
      ],
      routes: [
        {
          name: 'r',
          service: 'up',
          policies: [
            { type: 'key-auth', anonymous: 'guest' },
            { type: 'acl', allow: ['x'] },
          ],
        },
      ],
    }),
  );
  assert.equal(r.ok, true, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.config.consumers[1]!.groups, []);
});

test('duplicates: consumer ids, usernames, keys (also as sha256), basic usernames, credential ids, certificates', () => {
  const e = errors({
    consumers: [
      {
        id: 'a',
        username: 'u',
        credentials: [
          { type: 'api-key', key: 'secret-key-1' },
          { type: 'basic', username: 'b', password: 'p' },
          { type: 'mtls', subject: 'cn' },
        ],
      },
      { id: 'a', username: 'u', credentials: [{ type: 'api-key', key: 'sha256:' + '0'.repeat(64) }] },
      {
        id: 'c',
        credentials: [
          { type: 'api-key', key: 'secret-key-1' },
          { type: 'basic', username: 'b', password: 'q' },
          { type: 'mtls', subject: 'cn' },
          { type: 'api-key', id: 'c:basic:1', key: 'other-key-2' },
        ],
      },
    ],
  });
  const paths = e.map((x) => x.path);
  assert.ok(paths.includes('consumers[1].id'));
  assert.ok(paths.includes('consumers[1].username'));
  assert.ok(paths.includes('consumers[2].credentials[0].key'));
  assert.ok(paths.includes('consumers[2].credentials[1].username'));
  assert.ok(paths.includes('consumers[2].credentials[2]'));
  assert.ok(paths.includes('consumers[2].credentials[3].id'));
  assert.doesNotMatch(JSON.stringify(e), /secret-key-1/);
});

test('hash formats, mtls shape, header-unsafe names', () => {
  const e = errors({
    consumers: [
      {
        id: 'a',
        groups: ['a,b'],
        credentials: [
          { type: 'api-key', key: 'sha256:abc' },
          { type: 'basic', username: 'x', password: 'scrypt:1000:8:1:AAAA:AAAA' },
          { type: 'mtls' },
          { type: 'basic', username: 'a:b', password: 'p' },
        ],
      },
    ],
  });
  const paths = e.map((x) => x.path);
  for (const p of [
    'consumers[0].groups[0]',
    'consumers[0].credentials[0].key',
    'consumers[0].credentials[1].password',
    'consumers[0].credentials[2]',
    'consumers[0].credentials[3].username',
  ]) {
    assert.ok(paths.includes(p), `${p} in ${JSON.stringify(e)}`);
  }
});

test('policies: unknown anonymous consumer (also nested in auth), jwt without key source, bad keys, bad regex, both anyOf and allOf', () => {
  const e = errors({
    consumers: [{ id: 'a' }],
    policies: [{ type: 'key-auth', anonymous: 'ghost' }],
    routes: [
      {
        name: 'r',
        service: 'up',
        policies: [
          { type: 'jwt', algorithms: ['RS256'] },
          { type: 'jwt', algorithms: ['RS256'], keys: [{ pem: 'not a key' }, { secret: 'short' }], requireClaims: { x: { regex: '(' } } },
          { type: 'key-auth' },
          { type: 'auth', anyOf: [{ type: 'basic-auth' }], anonymous: 'nobody' },
        ],
      },
      {
        name: 's',
        service: 'up',
        policies: [{ type: 'auth', anyOf: [{ type: 'key-auth' }], allOf: [{ type: 'key-auth' }] }, { type: 'acl' }],
      },
    ],
  });
  const paths = e.map((x) => x.path);
  for (const p of [
    'policies[0].anonymous',
    'routes[0].policies[0]',
    'routes[0].policies[1].keys[0]',
    'routes[0].policies[1].keys[1]',
    'routes[0].policies[1].requireClaims.x.regex',
    'routes[0].policies[3].anonymous',
  ]) {
    assert.ok(paths.includes(p), `${p} in ${JSON.stringify(e)}`);
  }
  assert.ok(e.some((x) => x.path.startsWith('routes[1].policies[0]')));
  assert.ok(e.some((x) => x.path.startsWith('routes[1].policies[1]')));
});

test('listen tls: unreadable files are refused at validation', () => {
  const e = errors({
    listen: [{ port: 0, tls: { cert: '/nonexistent/cert.pem', key: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----' } }],
  });
  assert.ok(
    e.some((x) => x.path === 'listen[0].tls.cert' && /cannot read/.test(x.message)),
    JSON.stringify(e),
  );
});

test('a method nested in auth is checked by its own type (a jwt without keys, a bad key, a bad claim regex)', () => {
  const e = errors({
    routes: [
      {
        name: 'r',
        service: 'up',
        policies: [
          {
            type: 'auth',
            anyOf: [
              { type: 'key-auth' },
              { type: 'jwt', algorithms: ['RS256'] },
              { type: 'jwt', algorithms: ['HS256'], keys: [{ secret: 'short' }] },
            ],
          },
          {
            type: 'auth',
            allOf: [
              {
                type: 'oauth2-introspection',
                endpoint: 'https://idp.example.com/i',
                clientId: 'c',
                clientSecret: 's',
                requireClaims: { x: { regex: '[' } },
              },
            ],
          },
        ],
      },
    ],
  });
  assert.deepEqual(e.map((x) => x.path).sort(), [
    'routes[0].policies[0].anyOf[1]',
    'routes[0].policies[0].anyOf[2].keys[0]',
    'routes[0].policies[1].allOf[0].requireClaims.x.regex',
  ]);
  assert.match(e.find((x) => x.path === 'routes[0].policies[0].anyOf[1]')!.message, /needs keys, a jwksUri, or an issuer/);
});
