// The TLS listener and the mtls policy: certificates from a test CA map to consumers by SAN or
// subject CN; no certificate, a certificate from another CA, or an unknown one is a 401 that the
// upstream never sees. Routes without mtls on the same listener serve clients without certificates.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { makePki, type Pair, type TestPki } from './helpers/certs.js';
import { maybeUnset } from './helpers/hooks.js';

let pki: TestPki;
let up: Upstream;
let gw: TestGateway;
let alice: Pair, bob: Pair, carol: Pair, rogue: Pair;

before(async () => {
  pki = makePki();
  alice = pki.client('alice', 'alice-client', 'URI:spiffe://test/alice');
  bob = pki.client('bob', 'bob.example');
  carol = pki.client('carol', 'carol.example');
  rogue = pki.client('rogue', 'bob.example', undefined, true);
  up = await startUpstream();
  gw = await startTestGateway({
    // cert from a file path, key and CA inline: both forms are accepted
    listen: [{ port: 0, host: '127.0.0.1', tls: { cert: pki.server.certPath, key: pki.server.key, clientCa: pki.ca.cert } }],
    services: { up: { targets: [{ url: up.url }] } },
    consumers: [
      { id: 'alice', credentials: [{ type: 'mtls', san: 'spiffe://test/alice' }] },
      { id: 'bob', groups: ['ops'], credentials: [{ type: 'mtls', id: 'bob-cert', subject: 'bob.example' }] },
    ],
    routes: [
      { name: 'secure', match: { paths: ['/secure/*'] }, service: 'up', policies: [{ type: 'mtls' }] },
      { name: 'open', match: { paths: ['/open/*'] }, service: 'up' },
    ],
  });
});

after(async () => {
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
  maybeUnset(pki)?.cleanup();
});

async function call(path: string, client?: Pair) {
  const agent = new Agent({ connect: { ca: pki.ca.cert, cert: client?.cert, key: client?.key } });
  try {
    const before = up.hits;
    const res = await request(`https://127.0.0.1:${gw.port}${path}`, { dispatcher: agent });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      headers: res.headers,
      text,
      reached: up.hits > before,
      seen: up.hits > before ? up.seen.at(-1)! : undefined,
    };
  } finally {
    await agent.close();
  }
}

test('a certificate maps to its consumer by SAN or subject CN', async () => {
  let r = await call('/secure/a', alice);
  assert.equal(r.status, 200);
  assert.equal(r.seen!.headers['x-consumer-id'], 'alice');
  assert.equal(r.seen!.headers['x-credential-id'], 'alice:mtls:0');
  assert.equal(r.seen!.headers['x-forwarded-proto'], 'https');
  r = await call('/secure/a', bob);
  assert.equal(r.status, 200);
  assert.equal(r.seen!.headers['x-consumer-id'], 'bob');
  assert.equal(r.seen!.headers['x-credential-id'], 'bob-cert');
});

test('no certificate, an unknown one, or one from another CA: 401, upstream never called', async () => {
  for (const [name, c] of [
    ['none', undefined],
    ['unknown consumer', carol],
    ['self-signed with a known CN', rogue],
  ] as const) {
    const r = await call('/secure/a', c);
    assert.equal(r.status, 401, name);
    assert.equal(r.reached, false, name);
    assert.match(String(r.headers['www-authenticate']), /^Mutual/);
  }
});

test('a route without mtls serves a client without a certificate on the same listener', async () => {
  const r = await call('/open/a');
  assert.equal(r.status, 200);
  assert.equal(r.seen!.headers['x-consumer-id'], undefined);
});
