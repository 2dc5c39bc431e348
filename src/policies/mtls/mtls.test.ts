// The policy on its own. It reads only what node's TLS socket says about the peer — `encrypted`,
// `authorized`, `authorizationError` and getPeerCertificate() — so a stand-in socket plays the
// TLS layer here (test/auth-mtls.test.ts runs real certificates through a TLS listener): a
// verified certificate maps to a consumer by a SAN entry (without its prefix), else by its subject
// CN; no TLS, no certificate, an unverified or unknown one → 401 with the Mutual challenge; the
// outcome is decided once per connection; and config errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { accessVerdict, testContext, testEnv } from '../../../test/helpers/policy-context.js';
import { validateConfig } from '../../validation/validate.js';
import { ConsumerRegistry } from '../../identity/registry.js';
import { mtlsPolicy } from './mtls.js';
import type { Policy, RequestContext, RespondVerdict } from '../types.js';

const consumers = [
  { id: 'alice', credentials: [{ type: 'mtls', san: 'spiffe://test/alice' }] },
  { id: 'bob', username: 'Bob', groups: ['ops'], credentials: [{ type: 'mtls', id: 'bob-cert', subject: 'bob.example' }] },
  {
    id: 'carol',
    credentials: [
      { type: 'mtls', id: 'carol-ip', san: '10.0.0.7' },
      { type: 'mtls', id: 'carol-mail', san: 'carol@example.com' },
    ],
  },
  { id: 'guest', groups: ['public'] },
];
const DENIED = { status: 401, code: 'GW_UNAUTHORIZED', headers: { 'www-authenticate': 'Mutual realm="gatehouse"' } };

function check(policy: Record<string, unknown>, extraConsumers: unknown[] = []) {
  return validateConfig({
    consumers: [...consumers, ...extraConsumers],
    services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', service: 's', policies: [{ type: 'mtls', ...policy }] }],
  });
}
function make(policy: Record<string, unknown> = {}): Policy {
  const r = check(policy);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return mtlsPolicy.create(
    r.config.routes[0]!.policies[0]! as never,
    testEnv({ config: r.config, consumers: new ConsumerRegistry(r.config.consumers), routeName: 'r' }),
  );
}
function errors(policy: Record<string, unknown>, extraConsumers: unknown[] = []): string[] {
  const r = check(policy, extraConsumers);
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

interface PeerCert {
  subject?: Record<string, unknown>;
  subjectaltname?: string;
}
/** What the policy reads from a TLS socket; `reads` counts getPeerCertificate() calls. */
function tlsSocket(cert: PeerCert | Record<string, never>, authorized = true, authorizationError?: string) {
  const sock = {
    encrypted: true,
    authorized,
    authorizationError,
    reads: 0,
    getPeerCertificate() {
      sock.reads++;
      return cert;
    },
  };
  return sock;
}
function onSocket(socket: object): RequestContext {
  const base = testContext();
  return { ...base, req: { rawHeaders: [], headers: {}, socket } as unknown as IncomingMessage };
}
async function run(p: Policy, socket: object): Promise<{ verdict: RespondVerdict | undefined; ctx: RequestContext }> {
  const ctx = onSocket(socket);
  const verdict = await accessVerdict(p.access!(ctx));
  return { verdict, ctx };
}

test('a verified certificate maps to its consumer by a SAN entry, without its prefix (URI, IP Address, email)', async () => {
  const p = make();
  const alice = await run(p, tlsSocket({ subject: { CN: 'alice-client' }, subjectaltname: 'DNS:alice.example, URI:spiffe://test/alice' }));
  assert.equal(alice.verdict, undefined);
  assert.deepEqual(alice.ctx.identity, {
    consumerId: 'alice',
    username: undefined,
    groups: [],
    plan: undefined,
    credentialId: 'alice:mtls:0',
    method: 'mtls',
  });
  const byIp = await run(p, tlsSocket({ subject: { CN: 'x' }, subjectaltname: 'IP Address:10.0.0.7' }));
  assert.deepEqual([byIp.ctx.identity?.consumerId, byIp.ctx.identity?.credentialId], ['carol', 'carol-ip']);
  const byMail = await run(p, tlsSocket({ subject: { CN: 'x' }, subjectaltname: 'email:carol@example.com' }));
  assert.deepEqual([byMail.ctx.identity?.consumerId, byMail.ctx.identity?.credentialId], ['carol', 'carol-mail']);
});

test('a verified certificate whose SANs map to no one maps by its subject CN', async () => {
  const p = make();
  for (const cert of [
    { subject: { CN: 'bob.example', O: 'Example' } },
    { subject: { CN: 'bob.example' }, subjectaltname: 'DNS:unknown.example' },
  ]) {
    const { verdict, ctx } = await run(p, tlsSocket(cert));
    assert.equal(verdict, undefined, JSON.stringify(cert));
    assert.deepEqual(ctx.identity, {
      consumerId: 'bob',
      username: 'Bob',
      groups: ['ops'],
      plan: undefined,
      credentialId: 'bob-cert',
      method: 'mtls',
    });
  }
  // The SAN is tried first: a certificate naming both consumers is the SAN's.
  const both = await run(p, tlsSocket({ subject: { CN: 'bob.example' }, subjectaltname: 'URI:spiffe://test/alice' }));
  assert.equal(both.ctx.identity?.consumerId, 'alice');
  // A SAN value is not a subject and a subject is not a SAN.
  assert.deepEqual((await run(p, tlsSocket({ subject: { CN: 'spiffe://test/alice' } }))).verdict, DENIED);
  assert.deepEqual((await run(p, tlsSocket({ subject: { CN: 'x' }, subjectaltname: 'DNS:bob.example' }))).verdict, DENIED);
});

test('no TLS, no client certificate, an unverified or unknown certificate → 401 GW_UNAUTHORIZED with the Mutual challenge', async () => {
  const p = make();
  const cases: [string, object][] = [
    [
      'plain TCP',
      {
        encrypted: undefined,
        authorized: false,
        getPeerCertificate: () => {
          throw new Error('not a TLS socket');
        },
      },
    ],
    ['no certificate', tlsSocket({}, false, 'UNABLE_TO_GET_ISSUER_CERT')],
    [
      'a known SAN, not verified',
      tlsSocket({ subject: { CN: 'x' }, subjectaltname: 'URI:spiffe://test/alice' }, false, 'DEPTH_ZERO_SELF_SIGNED_CERT'),
    ],
    ['a known CN, not verified', tlsSocket({ subject: { CN: 'bob.example' } }, false, 'CERT_HAS_EXPIRED')],
    ['verified, unknown', tlsSocket({ subject: { CN: 'dave.example' }, subjectaltname: 'DNS:dave.example' })],
    ['verified, no CN and no SAN', tlsSocket({ subject: { O: 'Example' } })],
    ['two CNs', tlsSocket({ subject: { CN: ['bob.example', 'other'] } })],
  ];
  for (const [name, sock] of cases) {
    const { verdict, ctx } = await run(p, sock);
    assert.deepEqual(verdict, DENIED, name);
    assert.equal(ctx.identity, undefined, name);
  }
});

test('anonymous: no certificate or an unverified one passes as the fallback consumer; a verified one is still the caller', async () => {
  const p = make({ anonymous: 'guest' });
  for (const sock of [{ encrypted: false }, tlsSocket({}), tlsSocket({ subject: { CN: 'bob.example' } }, false, 'CERT_HAS_EXPIRED')]) {
    const { verdict, ctx } = await run(p, sock);
    assert.equal(verdict, undefined);
    assert.deepEqual(ctx.identity, {
      consumerId: 'guest',
      username: undefined,
      groups: ['public'],
      plan: undefined,
      anonymous: true,
      method: 'anonymous',
    });
  }
  assert.equal((await run(p, tlsSocket({ subject: { CN: 'bob.example' } }))).ctx.identity?.consumerId, 'bob');
});

test('decided once per connection: the certificate is read on the first request only; another connection is read again', async () => {
  const p = make();
  const conn = tlsSocket({ subject: { CN: 'bob.example' } });
  for (let i = 0; i < 3; i++) assert.equal((await run(p, conn)).ctx.identity?.consumerId, 'bob');
  assert.equal(conn.reads, 1);
  const refused = tlsSocket({ subject: { CN: 'dave.example' } });
  for (let i = 0; i < 2; i++) assert.deepEqual((await run(p, refused)).verdict, DENIED);
  assert.equal(refused.reads, 1);
  const other = tlsSocket({ subject: { CN: 'bob.example' } }, false, 'CERT_REVOKED');
  assert.deepEqual((await run(p, other)).verdict, DENIED);
  assert.equal(other.reads, 1);
});

test('access only: nothing to hide from the upstream (the certificate is not a header)', () => {
  const p = make();
  assert.equal(typeof p.access, 'function');
  assert.equal(typeof p.upstreamRequest, 'undefined');
});

test('config errors name the path: the policy entry and the mtls credentials', () => {
  assert.deepEqual(errors({ anonymous: 'guest' }), []);
  assert.deepEqual(errors({ anonymous: 'nobody' }), ['routes[0].policies[0].anonymous: consumer "nobody" is not defined in consumers']);
  assert.deepEqual(errors({ hideCredentials: false }), ['routes[0].policies[0].hideCredentials: unknown key "hideCredentials"']);
  assert.deepEqual(errors({ subject: 'bob.example' }), ['routes[0].policies[0].subject: unknown key "subject"']);
  // An mtls credential names exactly one of subject or san, and each is used once.
  assert.deepEqual(errors({}, [{ id: 'eve', credentials: [{ type: 'mtls' }] }]), [
    'consumers[4].credentials[0]: an mtls credential names exactly one of subject or san',
  ]);
  assert.deepEqual(errors({}, [{ id: 'eve', credentials: [{ type: 'mtls', subject: 'eve', san: 'eve.example' }] }]), [
    'consumers[4].credentials[0]: an mtls credential names exactly one of subject or san',
  ]);
  assert.deepEqual(errors({}, [{ id: 'eve', credentials: [{ type: 'mtls', subject: 'bob.example' }] }]), [
    'consumers[4].credentials[0]: this certificate subject is already used by consumers[1].credentials[0]',
  ]);
  assert.deepEqual(errors({}, [{ id: 'eve', credentials: [{ type: 'mtls', san: 'spiffe://test/alice' }] }]), [
    'consumers[4].credentials[0]: this certificate san is already used by consumers[0].credentials[0]',
  ]);
});
