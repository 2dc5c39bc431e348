// With workers each process has its own listeners and watches the certificate files itself
// (issue 17): after a Kubernetes-style secret swap every worker serves the new certificate, and
// GET /certificates (asked of every worker) shows it once, served by both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'undici';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { freePort, killAllChildren, startChild, waitFor, type GatewayChild } from './helpers/child.js';
import { makeCerts, type CertFactory, type Leaf } from './helpers/tls-certs.js';
import { handshake } from './helpers/tls-client.js';
import { secretDir, type SecretDir } from './helpers/secret-dir.js';
import { maybeUnset } from './helpers/hooks.js';

let certs: CertFactory;
let up: Upstream;
let gw: GatewayChild;
let secret: SecretDir;
let v1: Leaf, v2: Leaf;
let tlsPort: number;

before(async () => {
  certs = makeCerts();
  v1 = certs.leaf('v1', { dns: ['api.example'] });
  v2 = certs.leaf('v2', { dns: ['api.example'] });
  secret = secretDir(join(certs.dir, 'secret'), v1.cert, v1.key);
  up = await startUpstream();
  const [plainPort, port] = [await freePort(), await freePort()];
  tlsPort = port;
  const cfg = certs.file(
    'gw.yaml',
    `workers: 2
accessLog: false
log: { level: warn }
listen:
  - { port: ${plainPort}, host: 127.0.0.1 }
  - { port: ${tlsPort}, host: 127.0.0.1, tls: { cert: ${secret.certPath}, key: ${secret.keyPath}, pollInterval: 1s } }
admin: { port: 0, host: 127.0.0.1 }
services:
  up: { targets: [{ url: "${up.url}" }] }
routes:
  - { name: all, service: up }
`,
  );
  gw = await startChild(cfg, { timeoutMs: 20_000 });
});

after(async () => {
  await killAllChildren();
  await maybeUnset(up)?.close();
  maybeUnset(certs)?.cleanup();
});

interface Shown {
  fingerprint256: string;
  workers?: number;
  listener: string;
}
const shown = async () => ((await (await request(`${gw.adminUrl}/certificates`)).body.json()) as { certificates: Shown[] }).certificates;

test('every worker takes the swapped secret; GET /certificates shows it once, served by both workers', async () => {
  assert.deepEqual(
    (await shown()).map((c) => [c.fingerprint256, c.workers, c.listener]),
    [[v1.fingerprint256, 2, `127.0.0.1:${tlsPort}`]],
  );
  secret.swap(v2.cert, v2.key);
  // Both workers report the new certificate only when both have loaded it.
  await waitFor(
    'both workers on the new certificate',
    async () => {
      const list = await shown();
      return list.length === 1 && list[0]!.fingerprint256 === v2.fingerprint256 && list[0]!.workers === 2;
    },
    15_000,
  );
  // New connections land on either worker (SO_REUSEPORT or the primary's hand-off): all get it.
  for (let i = 0; i < 20; i++) {
    assert.equal((await handshake(tlsPort, { servername: 'api.example' })).fingerprint256, v2.fingerprint256);
  }
  const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  assert.match(
    metrics,
    new RegExp(
      `gatehouse_tls_certificate_expiry_seconds\\{listener="127.0.0.1:${tlsPort}",name="api.example",fingerprint="${v2.fingerprint256}"\\} \\d+`,
    ),
  );
});
