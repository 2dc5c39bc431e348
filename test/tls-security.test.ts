// TLS termination under attack (issue 17, security review): a client certificate must vouch only
// for what it was verified for — not after the client renegotiates, not in a session resumed under
// another name or after the client CAs changed, not because a PKCS#12 bundle or node's own trust
// store added CAs — and key material given where a file path belongs is never echoed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { makeCerts, type CertFactory, type Leaf } from './helpers/tls-certs.js';
import { maybeUnset } from './helpers/hooks.js';

let certs: CertFactory;
let up: Upstream;
let a: Leaf, alice: Leaf;
const gateways: TestGateway[] = [];

before(async () => {
  certs = makeCerts();
  a = certs.leaf('a', { dns: ['a.example'] });
  alice = certs.client('alice', 'alice'); // issued by the first CA
  up = await startUpstream();
});

after(async () => {
  for (const gw of gateways) await gw.stop();
  await maybeUnset(up)?.close();
  maybeUnset(certs)?.cleanup();
});

const consumers = [{ id: 'alice', credentials: [{ type: 'mtls', subject: 'alice' }] }];
const routes = [{ name: 'secure', service: 'up', policies: [{ type: 'mtls' }] }];

function gatewayDoc(tlsSection: Record<string, unknown>): Record<string, unknown> {
  return { listen: [{ port: 0, host: '127.0.0.1', tls: tlsSection }], services: { up: { targets: [{ url: up.url }] } }, consumers, routes };
}

async function gateway(tlsSection: Record<string, unknown>): Promise<TestGateway> {
  const gw = await startTestGateway(gatewayDoc(tlsSection));
  gateways.push(gw);
  return gw;
}

test('a client cannot renegotiate (TLS 1.2): node keeps `authorized` from the first handshake while the certificate may change', async () => {
  // With renegotiation, a client holding any verified certificate renegotiated with a
  // self-signed one naming another consumer, and mtls (reading the new certificate, the old
  // verdict) took it for that consumer. Without renegotiation the certificate is fixed.
  const gw = await gateway({ cert: a.certPath, key: a.keyPath, clientCa: certs.ca.certPath });
  const sock = tls.connect({
    host: '127.0.0.1',
    port: gw.port,
    servername: 'a.example',
    cert: alice.cert,
    key: alice.key,
    maxVersion: 'TLSv1.2',
    rejectUnauthorized: false,
  });
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  await new Promise<void>((r) => sock.once('secureConnect', () => r()));
  // A refusal reaches the client as the socket's error (its renegotiate callback is not called).
  const outcome = await new Promise<NodeJS.ErrnoException | null>((r) => {
    sock.on('error', r);
    if (!sock.renegotiate({ rejectUnauthorized: false }, r)) r(new Error('renegotiate() refused locally'));
  });
  assert.equal(outcome?.code, 'ERR_SSL_NO_RENEGOTIATION', 'the gateway accepted a client-initiated renegotiation');
  sock.destroy();
  await closed;
});
